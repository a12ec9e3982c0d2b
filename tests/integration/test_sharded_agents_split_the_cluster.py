"""Several agents, each with RUNLEDGER_SHARD=i/n, split one cluster: every workflow is recorded by
exactly one of them, into one store; shards killed, restarted or resized lose and double nothing."""

from __future__ import annotations

import contextlib

import pytest

from runledger.core.shards import Shard
from runledger.store import reconcile
from tests.support.agent import agent_settings, running_agent, settled
from tests.support.builders import WorkflowBuilder
from tests.support.kube_double import KubeDouble
from tests.support.waiting import eventually

NAMESPACES = [f"team-{i}" for i in range(12)]
PER_NAMESPACE = 5


@pytest.fixture
async def double():
    async with KubeDouble() as d:
        yield d


def workflows(double: KubeDouble) -> list[WorkflowBuilder]:
    made = []
    for namespace in NAMESPACES:
        for i in range(PER_NAMESPACE):
            wf = WorkflowBuilder(name=f"wf-{i}", namespace=namespace)
            wf.obj["metadata"].pop("uid")
            wf.obj["metadata"].pop("resourceVersion")
            wf.phase("Running").node("a", "Running")
            wf.obj = double.create("workflows", wf.obj)
            made.append(wf)
    return made


@contextlib.asynccontextmanager
async def shards(pool, double, settings, count: int, *, only: list[int] | None = None):
    async with contextlib.AsyncExitStack() as stack:
        running = [
            await stack.enter_async_context(running_agent(pool, double, agent_settings(settings, cluster={"shard": f"{i}/{count}"})))
            for i in (only if only is not None else range(count))
        ]
        for agent in running:
            await settled(agent)
        yield running


def accepted(agent) -> int:
    return sum(n for kind, n in agent.ingestor.stats.events.items() if not kind.startswith("pod:"))


async def test_three_shards_record_every_workflow_once_between_them(double, pool, conn, settings):
    made = workflows(double)
    async with shards(pool, double, settings, 3) as running:
        assert sum(accepted(a) for a in running) == len(made)
        for index, agent in enumerate(running):
            owned = sum(Shard(index=index, count=3).owns(wf.obj["metadata"]["namespace"]) for wf in made)
            assert accepted(agent) == owned
            assert agent.ingestor.stats.other_shards["workflow"] == len(made) - owned
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE deleted_at IS NULL") == len(made)


async def test_a_killed_shard_resumes_where_it_stopped_and_the_others_do_not_take_its_namespaces(
    double, pool, conn, settings
):
    made = workflows(double)
    orphaned = [wf for wf in made if Shard(index=0, count=3).owns(wf.obj["metadata"]["namespace"])]
    async with shards(pool, double, settings, 3):
        pass
    for wf in orphaned:  # changed while shard 0 is down
        wf.phase("Succeeded", at="2026-01-01T00:09:00Z").node("a", "Succeeded")
        wf.obj = double.update("workflows", wf.obj)
    async with shards(pool, double, settings, 3, only=[1, 2]) as running:
        # Resumed from their checkpoints: they see only the changes since, all of them shard 0's.
        assert sum(accepted(a) for a in running) == 0
        assert sum(a.ingestor.stats.other_shards["workflow"] for a in running) == 2 * len(orphaned)
        assert await conn.fetchval("SELECT count(*) FROM runs WHERE phase = 'Succeeded'") == 0
    async with shards(pool, double, settings, 3, only=[0]):
        pass
    phases = dict(await conn.fetch("SELECT namespace || '/' || name, phase FROM runs"))
    assert len(phases) == len(made)
    for wf in made:
        meta = wf.obj["metadata"]
        assert phases[f"{meta['namespace']}/{meta['name']}"] == ("Succeeded" if wf in orphaned else "Running")


async def test_resizing_three_shards_to_two_hands_over_without_loss_or_duplicates(double, pool, conn, settings):
    made = workflows(double)
    async with shards(pool, double, settings, 3):
        pass
    for wf in made:
        wf.phase("Succeeded", at="2026-01-01T00:09:00Z").node("a", "Succeeded")
        wf.obj = double.update("workflows", wf.obj)
    async with shards(pool, double, settings, 2) as running:
        assert sum(accepted(a) for a in running) == len(made)

        async def all_succeeded() -> bool:
            return await conn.fetchval("SELECT count(*) FROM runs WHERE phase = 'Succeeded'") == len(made)

        await eventually(all_succeeded)
    assert await conn.fetchval("SELECT count(*) FROM runs") == len(made)
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE deleted_at IS NOT NULL") == 0


async def test_a_shard_reconciles_deletions_only_in_its_own_namespaces(double, pool, conn, settings):
    made = workflows(double)
    async with shards(pool, double, settings, 3):
        pass
    since = await reconcile.database_now(conn)
    shard = Shard(index=2, count=3)
    gone = await reconcile.mark_unlisted_runs_deleted(
        conn, listed_run_ids=[], since=since, namespaces=None, labels=None, shard=shard)  # fmt: skip
    namespaces = set(await conn.fetch("SELECT DISTINCT namespace FROM runs WHERE deleted_at IS NOT NULL"))
    assert gone and {n for (n,) in namespaces} == {n for n in NAMESPACES if shard.owns(n)}
    assert len(gone) == PER_NAMESPACE * sum(shard.owns(n) for n in NAMESPACES) < len(made)
