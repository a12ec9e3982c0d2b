"""While Postgres is away the queue keeps one state per run, yet every phase change seen meanwhile is
stored once it is back: in order, with the object's times and the phase it left."""

from __future__ import annotations

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from runledger.store import connection as db
from tests.support.ingesting import dump, ingest
from tests.support.phase_streams import TWO_STEP_HISTORY, two_step_run
from tests.support.tcp_proxy import postgres_proxy
from tests.support.waiting import eventually

HISTORY = "SELECT step_id, from_phase, to_phase, at FROM transitions ORDER BY id"


async def test_every_phase_change_seen_while_postgres_was_away_is_stored_in_order(dsn, settings, conn):
    proxy, proxied = await postgres_proxy(dsn)
    fast = settings.updated(ingest={"workers": 1, "retry_max_seconds": 0.2}, database={"statement_timeout_ms": 2000})
    pool = await db.create_pool(proxied, database=fast.database, min_size=0, timeout=1)
    try:
        async with build_ingestor(pool=pool, settings=fast) as ingestor:
            proxy.cut()
            events = two_step_run()
            await ingestor.submit(WatchEvent.model_validate(events[0]))

            async def failed_once() -> bool:
                return ingestor.stats.db_retries >= 1

            await eventually(failed_once)  # the first state went back to the queue: the rest coalesce with it
            for event in events[1:]:
                await ingestor.submit(WatchEvent.model_validate(event))
            proxy.restore()
            await ingestor.drain()
    finally:
        await pool.close()
        await proxy.close()
    assert ingestor.stats.runs_written == 1  # one state of the run was written: all others were replaced
    assert [tuple(r) for r in await conn.fetch(HISTORY)] == TWO_STEP_HISTORY


async def test_replaying_the_stream_again_changes_nothing(pool, settings, conn):
    events = two_step_run()
    await ingest(pool, settings, events)
    first = await dump(conn)
    await ingest(pool, settings, events)
    assert await dump(conn) == first
    assert [tuple(r) for r in await conn.fetch(HISTORY)] == TWO_STEP_HISTORY
