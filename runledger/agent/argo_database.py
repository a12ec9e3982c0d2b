"""Offloaded node status, read from Argo's persistence database.

With node status offloading on, Argo writes a workflow's node map to its
offload table (``nodeStatusOffLoad.tableName``, default ``argo_workflows``; primary key clustername,
uid, version) and leaves only ``status.offloadNodeStatusVersion`` in the object. ``NodeStatus``
puts the node map back before translation, so such a workflow is recorded like any other. Argo
writes the row before it updates the workflow, but a replica of its database may lag: a version not
found yet is retried with backoff in the background, never recorded without its steps (a state with
no steps would delete the steps already recorded). Events for the same run that arrive meanwhile
supersede the waiting one; one that is still missing when the wait runs out is dropped and counted
(``offload_missing``), and the run's next event brings a newer version.

The ``nodes`` column holds the node map's JSON (text in old schemas, json since). Argo builds that
compress offloaded nodes (``OFFLOAD_NODE_STATUS_COMPRESSED``) write ``null`` there and gzip+base64
JSON in a ``compressednodes`` column; both layouts are read.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from runledger.agent.source_databases import SourceDatabase, SourceError, identifier
from runledger.agent.translate import TranslationError, decompress_nodes, object_ref, run_id_for
from runledger.core.backoff import Backoff
from runledger.core.run_state import WatchEvent

log = logging.getLogger(__name__)


class OffloadUnreadable(ValueError):
    """The offload row exists but holds no node map runledger can read."""


def offloaded_version(obj: Any) -> tuple[str, str] | None:
    """(uid, version) when the object's nodes live in the offload table, else None."""
    if not isinstance(obj, dict):
        return None
    status, meta = obj.get("status"), obj.get("metadata")
    if not isinstance(status, dict) or not isinstance(meta, dict):
        return None
    version, uid = status.get("offloadNodeStatusVersion"), meta.get("uid")
    if not version or not isinstance(version, str) or not isinstance(uid, str) or not uid:
        return None
    if status.get("nodes") or status.get("compressedNodes"):
        return None
    return uid, version


def with_nodes(obj: dict[str, Any], nodes: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "status": {**obj["status"], "nodes": nodes}}


def parse_nodes(row: dict[str, Any], *, ref: str) -> dict[str, Any]:
    """The node map of an offload row, in either layout."""
    compressed = row.get("compressednodes")
    if compressed:
        try:
            return decompress_nodes(compressed, ref)
        except TranslationError as exc:
            raise OffloadUnreadable(str(exc)) from exc
    text = row.get("nodes")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        value = orjson.loads(text) if text is not None else None
    except orjson.JSONDecodeError as exc:
        raise OffloadUnreadable(f"{ref}: offloaded nodes are not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise OffloadUnreadable(f"{ref}: offloaded nodes are {type(value).__name__}, not a node map")
    return value


class OffloadTable:
    """Reads node maps from Argo's offload table."""

    def __init__(self, *, source: SourceDatabase, table: str, cluster: str) -> None:
        self._source, self._table, self._cluster = source, identifier(table), cluster

    async def nodes(self, uid: str, version: str, *, ref: str) -> dict[str, Any] | None:
        """The node map of (uid, version), None if no such row (yet)."""
        rows = await self._source.fetch("argo_offloaded_nodes", (self._cluster, uid, version), table=self._table)
        return parse_nodes(rows[0], ref=ref) if rows else None


@dataclass(order=True)
class _Waiting:
    due: float
    run_id: str = field(compare=False)
    event: WatchEvent = field(compare=False)
    version: tuple[str, str] = field(compare=False)
    give_up_at: float = field(compare=False)
    backoff: Backoff = field(compare=False)
    seq: int = field(compare=False)  # the ingestor's sequence number of the event (for checkpoints)


Submit = Callable[[dict[str, Any], str], Awaitable[None]]  # (workflow object, event type)
_UNREADABLE = object()  # the row exists but waiting cannot make it readable


class NodeStatus:
    """Puts offloaded node maps back into workflows; waits, in the background, for versions not visible yet."""

    def __init__(self, *, table: OffloadTable, retry_initial: float, retry_max: float, wait_seconds: float) -> None:
        self._table = table
        self._errors: Counter[str] = Counter()  # the ingestor's, once bound
        self._retry_initial, self._retry_max, self._wait = retry_initial, retry_max, wait_seconds
        self._waiting: dict[str, _Waiting] = {}
        self._heap: list[_Waiting] = []
        self._changed = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()

    def bind_errors(self, errors: Counter[str]) -> None:
        """Count faults in the ingestor's error counter (by kind)."""
        self._errors = errors

    def waiting(self) -> int:
        return len(self._waiting)

    def oldest_waiting(self) -> int | None:
        """Sequence number of the oldest event still waiting: a watch checkpoint must not pass it."""
        return min((entry.seq for entry in self._waiting.values()), default=None)

    async def settled(self) -> None:
        """Wait until no workflow waits for its offloaded nodes (each found, or given up)."""
        await self._settled.wait()

    async def hydrate(self, event: WatchEvent, *, seq: int = 0) -> dict[str, Any] | None:
        """The event's workflow with its nodes in place; None when it now waits for them (or was dropped)."""
        obj = event.object
        run_id = run_id_for(obj["metadata"]) if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) else ""
        self._forget(run_id)  # a newer event for the run supersedes a waiting one
        version = offloaded_version(obj)
        if version is None:
            return obj
        found = await self._lookup(obj, version)
        if found is _UNREADABLE:
            return None
        if found is not None:
            return found
        now = time.monotonic()
        backoff = Backoff(self._retry_initial, self._retry_max)
        entry = _Waiting(now + backoff.next(), run_id, event, version, now + self._wait, backoff, seq)
        self._waiting[run_id] = entry
        heapq.heappush(self._heap, entry)
        self._settled.clear()
        self._changed.set()
        return None

    async def _lookup(self, obj: dict[str, Any], version: tuple[str, str]) -> Any:
        """The workflow with its nodes; None if not found (yet); _UNREADABLE if found and unreadable."""
        ref = object_ref(obj)
        try:
            nodes = await self._table.nodes(*version, ref=ref)
        except OffloadUnreadable as exc:
            self._errors["offload_unreadable"] += 1
            log.warning("%s; this state is not recorded", exc)
            return _UNREADABLE
        except SourceError as exc:
            log.warning("%s: Argo's database failed (%s); will retry", ref, exc)
            return None
        return None if nodes is None else with_nodes(obj, nodes)

    def _forget(self, run_id: str) -> None:
        if self._waiting.pop(run_id, None) is not None and not self._waiting:
            self._settled.set()

    async def run(self, submit: Submit) -> None:
        """Retry the waiting workflows until cancelled; found ones go to `submit`."""
        try:
            while True:
                self._drop_superseded()
                if not self._heap:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                delay = self._heap[0].due - time.monotonic()
                if delay > 0:
                    self._changed.clear()
                    try:
                        await asyncio.wait_for(self._changed.wait(), delay)
                    except TimeoutError:
                        pass
                    continue
                entry = heapq.heappop(self._heap)
                await self._retry(entry, submit)
        finally:
            for entry in self._waiting.values():
                self._give_up(entry, "the agent stopped first")
            self._waiting.clear()
            self._heap.clear()
            self._settled.set()

    def _drop_superseded(self) -> None:
        while self._heap and self._waiting.get(self._heap[0].run_id) is not self._heap[0]:
            heapq.heappop(self._heap)

    async def _retry(self, entry: _Waiting, submit: Submit) -> None:
        found = await self._lookup(entry.event.object, entry.version)
        if self._waiting.get(entry.run_id) is not entry:
            return  # superseded while looking
        if found is not None:
            if found is not _UNREADABLE:
                # Queued before it stops waiting, so a checkpoint never passes it in between.
                await submit(found, entry.event.type)
            if self._waiting.get(entry.run_id) is entry:
                self._forget(entry.run_id)
            return
        now = time.monotonic()
        if now >= entry.give_up_at:
            self._give_up(entry, f"not found within {self._wait:g}s")
            self._forget(entry.run_id)
            return
        entry.due = min(now + entry.backoff.next(), entry.give_up_at)
        heapq.heappush(self._heap, entry)

    def _give_up(self, entry: _Waiting, why: str) -> None:
        self._errors["offload_missing"] += 1
        log.warning(
            "%s: offloaded nodes %s of workflow %s %s; this state is not recorded (the next one may be)",
            object_ref(entry.event.object), entry.version[1], entry.version[0], why,
        )  # fmt: skip
