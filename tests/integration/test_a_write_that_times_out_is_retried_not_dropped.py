"""A write cut by the statement timeout says the database was slow, not that the run is bad: on a
loaded server every run must still be stored. The run is retried with backoff; only a run that
times out again and again is given up, and counted."""

from __future__ import annotations

import asyncio

import asyncpg

from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from runledger.store import connection as db
from tests.support.builders import WorkflowBuilder
from tests.support.waiting import eventually


async def test_a_run_whose_write_times_out_while_the_table_is_locked_is_stored_afterwards(dsn, settings, conn):
    slow = settings.updated(database={"statement_timeout_ms": 200}, ingest={"retry_max_seconds": 0.2})
    pool = await db.create_pool(dsn, database=slow.database)
    try:
        async with build_ingestor(pool=pool, settings=slow) as ingestor:
            blocker = await asyncpg.connect(dsn)
            try:
                tx = blocker.transaction()
                await tx.start()
                await blocker.execute("LOCK TABLE runs IN EXCLUSIVE MODE")
                await ingestor.submit(WatchEvent.model_validate(
                    WorkflowBuilder("slow").phase("Succeeded").node("slow", "Succeeded").event("ADDED")
                ))  # fmt: skip
                await eventually(lambda: _retried(ingestor), timeout=15)
                # Slow, not away: readiness (and runledger_database_up) must not flap under load.
                assert ingestor.database_ok
                await tx.rollback()
            finally:
                await blocker.close()
            await asyncio.wait_for(ingestor.drain(), 30)
        assert ingestor.stats.errors["write_failed"] == 0
        assert await conn.fetchval("SELECT phase FROM runs WHERE name = 'slow'") == "Succeeded"
    finally:
        await pool.close()


async def _retried(ingestor: Ingestor) -> bool:
    return ingestor.stats.db_retries >= 2
