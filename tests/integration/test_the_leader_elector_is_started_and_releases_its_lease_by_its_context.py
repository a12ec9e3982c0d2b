"""`async with LeaderElector(...)`: entering campaigns, leaving releases the lease so a successor
need not wait for it to expire — shielded, so even an owner cancelled mid-stop gives it back."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio import client

from runledger.agent.leader import LeaderElector, LeaseSettings
from tests.support.kube_double import KubeDouble

LEASE = LeaseSettings(name="runledger-agent", namespace="runledger", identity="a",
                      lease_seconds=2.0, renew_deadline=1.5, retry_period=0.1)  # fmt: skip


def holder(double: KubeDouble) -> str | None:
    return ((double.get("leases", LEASE.namespace, LEASE.name) or {}).get("spec") or {}).get("holderIdentity")


def election_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "leader-election" and not t.done()]


async def test_leaving_the_context_releases_the_lease():
    async with KubeDouble() as double, client.ApiClient(double.client_configuration()) as api:
        async with LeaderElector(api=api, settings=LEASE) as elector:
            await asyncio.wait_for(elector.acquired.wait(), 10)
            assert holder(double) == "a" and elector.is_leader
        assert holder(double) == "" and not elector.is_leader
        assert not election_tasks()


async def test_an_owner_cancelled_while_leading_still_releases_the_lease():
    async with KubeDouble() as double, client.ApiClient(double.client_configuration()) as api:
        elector = LeaderElector(api=api, settings=LEASE)

        async def lead() -> None:
            async with elector:
                await asyncio.Event().wait()

        owner = asyncio.create_task(lead(), name="owner")
        await asyncio.wait_for(elector.acquired.wait(), 10)
        owner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await owner
        assert holder(double) == "" and not election_tasks()
