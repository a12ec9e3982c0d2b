"""Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection, in asyncio).

Only the leader watches and writes; every replica serves reads. The rules are client-go's:

* a candidate takes the lease when it is free, or when its holder has not renewed it for
  ``lease_seconds`` as measured on *our* clock since we last saw the record change (so clock skew
  between replicas cannot steal a live lease);
* every write goes through the Lease's resourceVersion, so two candidates racing for it cannot both
  win: the loser gets 409 Conflict;
* a leader that has not renewed successfully for ``renew_deadline`` stops leading at once
  (``lost`` is set) — before the lease can expire for the others, since renew_deadline < lease_seconds;
* on a graceful stop the leader releases the lease so a successor need not wait for it to expire.

The elector is a lifecycle.Service: inside ``async with`` it campaigns, leads while it renews, and
campaigns again after losing; ``acquired`` is set while it leads, and each term gets a fresh ``lost``
event (set when that term ends). Leaving the context releases the lease, shielded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from runledger.core.kube_client import client
from runledger.core.lifecycle import Service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    name: str
    namespace: str
    identity: str
    lease_seconds: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def _now_micro() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector(Service):
    name = "leader election"

    def __init__(self, *, api: client.ApiClient, settings: LeaseSettings) -> None:
        if settings.renew_deadline >= settings.lease_seconds:
            raise ValueError("the renew deadline must be shorter than the lease duration")
        super().__init__()
        self._api = client.CoordinationV1Api(api)
        self._s = settings
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.is_leader = False
        self.acquired = asyncio.Event()
        self.lost = asyncio.Event()
        self.transitions = 0

    def leading(self) -> bool:
        return self.is_leader

    async def _start(self) -> None:
        self.spawn(self._campaign(), name="leader-election")

    async def _close(self) -> None:
        await self.release()

    async def _campaign(self) -> None:
        while True:
            await self._acquire()
            await self._lead()

    async def _acquire(self) -> None:
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(self._s.retry_period * random.uniform(1.0, 1.2))
        self.is_leader = True
        self.transitions += 1
        self.lost = asyncio.Event()  # this term's: whoever led under the previous one saw that one set
        self.acquired.set()
        log.info("leader election: %s now leads %s/%s", self._s.identity, self._s.namespace, self._s.name)

    async def _lead(self) -> None:
        """Renew until a renewal misses the deadline; then stop leading at once."""
        last_renew = time.monotonic()
        while True:
            await asyncio.sleep(self._s.retry_period)
            if await self._try_acquire_or_renew():
                last_renew = time.monotonic()
            elif time.monotonic() - last_renew >= self._s.renew_deadline:
                self.is_leader = False
                self.acquired.clear()
                self.lost.set()
                log.error("leader election: %s could not renew within %.0fs; stepping down",
                          self._s.identity, self._s.renew_deadline)  # fmt: skip
                return

    async def release(self) -> None:
        """Give the lease up (graceful stop), so a successor takes over without waiting for expiry."""
        if not self.is_leader:
            return
        self.is_leader = False
        try:
            lease = await self._get()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self._s.identity:
                return
            lease["spec"].update({"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": _now_micro()})
            await self._replace(lease)
        except Exception as exc:  # releasing is a courtesy; expiry does the same later
            log.warning("leader election: could not release the lease: %s", exc)

    async def _try_acquire_or_renew(self) -> bool:
        try:
            lease = await self._get()
            now = _now_micro()
            if lease is None:
                return await self._create(now)
            spec = lease.setdefault("spec", {})
            record = (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))
            if record != self._observed:
                self._observed, self._observed_at = record, time.monotonic()
            holder = spec.get("holderIdentity") or ""
            duration = float(spec.get("leaseDurationSeconds") or self._s.lease_seconds)
            if holder and holder != self._s.identity and time.monotonic() < self._observed_at + duration:
                return False
            if holder != self._s.identity:
                spec["acquireTime"] = now
                spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec.update(
                {"holderIdentity": self._s.identity, "leaseDurationSeconds": int(self._s.lease_seconds), "renewTime": now}
            )
            return await self._replace(lease)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the API server being away is exactly what the deadline is for
            log.warning("leader election: %s", exc)
            return False

    async def _get(self) -> dict[str, Any] | None:
        response = await self._api.read_namespaced_lease(self._s.name, self._s.namespace, _preload_content=False)
        async with response:
            if response.status == 404:
                return None
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"reading the lease: HTTP {response.status}")
            return orjson.loads(body)

    async def _create(self, now: str) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._s.name, "namespace": self._s.namespace},
            "spec": {
                "holderIdentity": self._s.identity,
                "leaseDurationSeconds": int(self._s.lease_seconds),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        response = await self._api.create_namespaced_lease(self._s.namespace, body, _preload_content=False)
        async with response:
            return response.status in (200, 201)

    async def _replace(self, lease: dict[str, Any]) -> bool:
        response = await self._api.replace_namespaced_lease(
            self._s.name, self._s.namespace, lease, _preload_content=False
        )
        async with response:
            if response.status == 409:
                return False  # someone else wrote the lease first
            return response.status == 200
