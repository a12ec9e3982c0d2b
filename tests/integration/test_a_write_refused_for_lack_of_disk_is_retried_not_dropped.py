"""A database out of disk refuses every write until an operator makes room: the run is not bad, so
it is retried with backoff and stored once writes succeed again, never dropped."""

from __future__ import annotations

import asyncio

from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder
from tests.support.waiting import eventually


async def test_a_run_written_while_the_disk_is_full_is_stored_once_there_is_room(pool, settings, conn):
    # What Postgres answers when it cannot extend a file (ENOSPC): SQLSTATE 53100, disk_full.
    await conn.execute("""
        CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
        CREATE TRIGGER refuse_writes BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION refuse_writes();
    """)
    quick = settings.updated(ingest={"retry_max_seconds": 0.2})
    async with build_ingestor(pool=pool, settings=quick) as ingestor:
        await ingestor.submit(WatchEvent.model_validate(
            WorkflowBuilder("patient").phase("Succeeded").node("patient", "Succeeded").event("ADDED")
        ))  # fmt: skip
        await eventually(lambda: _retried(ingestor), timeout=15)
        await conn.execute("DROP TRIGGER refuse_writes ON runs; DROP FUNCTION refuse_writes()")
        await asyncio.wait_for(ingestor.drain(), 30)
    assert ingestor.stats.errors["write_failed"] == 0
    assert await conn.fetchval("SELECT phase FROM runs WHERE name = 'patient'") == "Succeeded"


async def _retried(ingestor: Ingestor) -> bool:
    return ingestor.stats.db_retries >= 2
