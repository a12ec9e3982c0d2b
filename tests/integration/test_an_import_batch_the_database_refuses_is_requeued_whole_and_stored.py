"""An import batch written while the database refuses writes (its disk full) goes back to the queue
whole: the queue's writers store it once writes succeed, no writer stumbles over a run the batch
still held, and nothing is dropped."""

from __future__ import annotations

import asyncio

from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder
from tests.support.waiting import eventually

REFUSE = """
    CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
    CREATE TRIGGER refuse_writes BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION refuse_writes();
"""


async def test_a_refused_batch_of_several_transactions_is_stored_by_the_queue_once_writes_succeed(pool, settings, conn):
    await conn.execute(REFUSE)
    quick = settings.updated(ingest={"batch_runs": 1, "retry_max_seconds": 0.2})
    async with build_ingestor(pool=pool, settings=quick) as ingestor:
        states = [ingestor.translate_event(WatchEvent.model_validate(
            WorkflowBuilder(f"refused-{i}").phase("Succeeded").node(f"refused-{i}", "Succeeded").event("ADDED")
        )) for i in range(3)]  # fmt: skip
        writing = asyncio.create_task(ingestor.write_taken(await ingestor.take(states)))
        await eventually(lambda: _retried(ingestor), timeout=15)
        await conn.execute("DROP TRIGGER refuse_writes ON runs; DROP FUNCTION refuse_writes()")
        await asyncio.wait_for(writing, 30)
        await asyncio.wait_for(ingestor.drain(), 30)
    assert ingestor.stats.errors["write_failed"] == 0
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE name LIKE 'refused-%'") == 3


async def _retried(ingestor: Ingestor) -> bool:
    return ingestor.stats.db_retries >= 2
