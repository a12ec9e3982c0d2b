"""Postgres cut off mid-stream (through a TCP proxy): the agent keeps one state per run, retries,
and every final state is present once the database is back."""

from __future__ import annotations

from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from runledger.store import connection as db
from tests.support.builders import WorkflowBuilder
from tests.support.tcp_proxy import postgres_proxy
from tests.support.waiting import eventually


async def test_every_final_state_is_stored_after_postgres_comes_back(dsn, settings, conn):
    proxy, proxied = await postgres_proxy(dsn)
    fast = settings.updated(ingest={"retry_max_seconds": 0.2}, database={"statement_timeout_ms": 2000})
    pool = await db.create_pool(proxied, database=fast.database, min_size=0, timeout=1)
    try:
        async with build_ingestor(pool=pool, settings=fast) as ingestor:
            await feed_through_an_outage(ingestor, proxy)
    finally:
        await pool.close()
        await proxy.close()
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE phase = 'Succeeded'") == 30
    assert await conn.fetchval("SELECT count(*) FROM steps") == 30 * 6
    assert await conn.fetchval("SELECT count(*) FROM transitions WHERE step_id = '' AND to_phase = 'Succeeded'") == 30


async def feed_through_an_outage(ingestor: Ingestor, proxy) -> None:
    builders = [WorkflowBuilder(name=f"wf-{i}") for i in range(30)]
    for b in builders:
        await ingestor.submit(WatchEvent.model_validate(b.phase("Running").node("a", "Running").event("ADDED")))
    await ingestor.drain()
    proxy.cut()
    for b in builders:  # many updates per run while the database is away
        for step in range(5):
            await ingestor.submit(WatchEvent.model_validate(b.node(f"s{step}", "Running", parent="a").event()))
        await ingestor.submit(WatchEvent.model_validate(b.phase("Succeeded", at="2026-01-01T00:30:00Z").event()))

    async def retried() -> bool:
        return ingestor.stats.db_retries >= 2 and not ingestor.database_ok

    await eventually(retried)
    assert len(ingestor.queue) + ingestor.queue.in_progress <= 30  # one pending state per run
    proxy.restore()
    await eventually(lambda: _drained(ingestor), timeout=30)


async def _drained(ingestor) -> bool:
    return ingestor.queue.idle()
