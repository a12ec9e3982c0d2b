"""Postgres dies under each component's load (its connections broken mid-protocol, then cut off
through a TCP proxy) and comes back: every component stays up and resumes its work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.core.settings import Settings
from runledger.service import StopSignal, build_app, build_ingestor, run_cluster_agent
from runledger.store import connection as db
from tests.support.agent import agent_settings
from tests.support.artifacts import indexing, producing_workflow
from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import (
    as_stored,
    open_stream,
    serve_feed,
    stored_transitions,
)
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.kube_double import KubeDouble
from tests.support.kubeconfig import write_kubeconfig
from tests.support.s3 import s3_settings
from tests.support.tcp_proxy import TcpProxy, postgres_proxy
from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def proxied_pool(dsn: str, settings: Settings) -> AsyncIterator[tuple[TcpProxy, asyncpg.Pool, Settings]]:
    proxy, proxied = await postgres_proxy(dsn)
    fast = settings.updated(ingest={"retry_max_seconds": 0.2}, database={"statement_timeout_ms": 2000})
    pool = await db.create_pool(proxied, database=fast.database, min_size=2, timeout=1)
    try:
        yield proxy, pool, fast
    finally:
        await pool.close()
        await proxy.close()


async def break_mid_protocol(proxy: TcpProxy) -> None:
    """Postgres dies in the middle of its replies: every open connection first gets a message out of
    turn (asyncpg then raises InternalClientError on it), and soon after nothing gets through at all."""
    assert await proxy.garble() > 0, "no connection was open to break"


async def _retried(ingestor: Ingestor) -> bool:
    return ingestor.stats.db_retries > 0


def event(builder: WorkflowBuilder, kind: str = "MODIFIED") -> WatchEvent:
    return WatchEvent.model_validate(builder.event(kind))


async def test_the_ingest_writers_keep_every_state_through_a_broken_connection_and_an_outage(dsn, settings, conn):
    async with proxied_pool(dsn, settings) as (proxy, pool, fast):
        async with build_ingestor(pool=pool, settings=fast) as ingestor:
            builders = [WorkflowBuilder(name=f"wf-{i}") for i in range(20)]
            for b in builders:
                await ingestor.submit(event(b.phase("Running").node("a", "Running"), "ADDED"))
            await ingestor.drain()
            await break_mid_protocol(proxy)
            for b in builders:
                await ingestor.submit(event(b.phase("Succeeded", at="2026-01-01T00:30:00Z")))
            await eventually(lambda: _retried(ingestor))
            proxy.cut()
            proxy.restore()
            await asyncio.wait_for(ingestor.drain(), 30)
    assert ingestor.stats.errors["write_failed"] == 0
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE phase = 'Succeeded'") == 20


async def test_the_artifact_indexer_outlives_a_broken_connection_and_an_outage(dsn, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path, artifacts={"retry_max_seconds": 0.05})
    await s3_objects.put("mlpipeline", "before.bin", b"1")
    await s3_objects.put("mlpipeline", "after.bin", b"2")
    async with proxied_pool(dsn, settings) as (proxy, pool, fast), indexing(pool, fast) as indexer:
        await ingest(pool, fast, [producing_workflow("before", "before.bin")])
        await eventually(lambda: _indexed(indexer, 1))
        await break_mid_protocol(proxy)
        # A garbled connection sitting idle may be found broken and replaced by the pool before the
        # claimer uses it, so only the cut that follows is sure to cost the indexer a failed claim.
        proxy.cut()
        await eventually(lambda: _db_errors(indexer), timeout=15)
        proxy.restore()
        await ingest(pool, fast, [producing_workflow("after", "after.bin")])
        await eventually(lambda: _indexed(indexer, 2), timeout=20)
        assert not indexer.failed.done(), "an indexer task died"


async def _indexed(indexer, n: int) -> bool:
    return indexer.stats.outcomes["indexed"] >= n


async def _db_errors(indexer, n: int = 1) -> bool:
    return indexer.stats.db_errors >= n


async def test_the_event_feed_listener_reconnects_after_a_broken_connection_and_an_outage(dsn, pool, settings, conn):
    proxy, proxied = await postgres_proxy(dsn)
    try:
        async with serve_feed(settings=settings, dsn=proxied) as feed, open_stream(feed.client) as stream:
            await ingest(pool, settings, [WorkflowBuilder(name="before").phase("Running").event("ADDED")])
            await stream.take(len(await stored_transitions(conn)))
            await break_mid_protocol(proxy)
            proxy.cut()
            await eventually(lambda: _disconnected(feed.hub))
            proxy.restore()
            newest = (await stored_transitions(conn))[-1][0]
            await ingest(pool, settings, [WorkflowBuilder(name="after").phase("Running").event("ADDED")])
            after = await stored_transitions(conn, after=newest)
            received = await stream.take(len(after), timeout=20)
            assert feed.hub.stats.connects >= 2
    finally:
        await proxy.close()
    assert as_stored(received) == after


async def _disconnected(hub) -> bool:
    return not hub.connected


async def test_api_reads_answer_503_while_the_database_is_away_and_200_once_it_is_back(dsn, settings):
    async with proxied_pool(dsn, settings) as (proxy, pool, fast), serve(settings=fast, pool=pool) as client:
        assert (await client.get("/api/v1/runs")).status == 200
        await break_mid_protocol(proxy)
        broken = await client.get("/api/v1/runs")
        assert broken.status == 503, await broken.text()
        proxy.cut()
        for path in ("/api/v1/runs", "/api/v1/runs/nope", "/readyz"):
            away = await client.get(path)
            assert away.status == 503, f"{path}: {away.status} {await away.text()}"
        metrics = await client.get("/metrics")
        assert metrics.status == 200, await metrics.text()  # the process's own figures, without the database's
        proxy.restore()

        async def answered() -> bool:
            return (await client.get("/api/v1/runs")).status == 200

        await eventually(answered, timeout=15)
        assert "runledger_runs" in await (await client.get("/metrics")).text()


async def test_a_leader_elected_while_the_database_is_away_starts_watching_once_it_is_back(
    dsn, settings, conn, tmp_path
):
    async with KubeDouble() as double, proxied_pool(dsn, settings) as (proxy, pool, fast):
        s = agent_settings(fast, cluster={"kube_config": write_kubeconfig(tmp_path / "kubeconfig", double.url)}, leader={"election": True, "lease_namespace": "runledger", "lease_seconds": 2.0, "renew_deadline_seconds": 1.5, "retry_seconds": 0.1})  # fmt: skip
        wf = WorkflowBuilder(name="wf", namespace="argo")
        del wf.obj["metadata"]["uid"], wf.obj["metadata"]["resourceVersion"]
        double.create("workflows", wf.phase("Running").obj)
        await break_mid_protocol(proxy)
        proxy.cut()
        stop = StopSignal()
        replica = asyncio.create_task(
            run_cluster_agent(s, pool=pool, app=build_app(settings=s, pool=pool), stop=stop), name="replica"
        )
        try:
            await double.wait_until(lambda: _lease(double).get("holderIdentity"), timeout=10)
            first_renewal = _lease(double)["renewTime"]
            # The leader keeps renewing, so it lives on while its streams wait for their checkpoints.
            await double.wait_until(lambda: _lease(double)["renewTime"] != first_renewal, timeout=10)
            assert not replica.done(), replica.exception() if not replica.cancelled() else "cancelled"
            proxy.restore()

            async def stored() -> bool:
                return await conn.fetchval("SELECT count(*) FROM runs WHERE name = 'wf'") == 1

            await eventually(stored, timeout=20)
            assert not replica.done()
        finally:
            stop.event.set()
            await asyncio.wait_for(replica, 20)


def _lease(double: KubeDouble) -> dict:
    return (double.get("leases", "runledger", "runledger-agent") or {}).get("spec") or {}
