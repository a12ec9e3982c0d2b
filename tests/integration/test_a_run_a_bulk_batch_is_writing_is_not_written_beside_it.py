"""A bulk source (an import) writes the batches it takes itself, beside the queue's writers. A newer
state of a run such a batch is writing (an offloaded copy of it, say) waits in the queue, which
hands it to no writer until that batch is written, so one run is never written by two transactions
at once, and the newer state wins."""

from __future__ import annotations

import asyncio

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder


async def test_a_newer_state_of_a_taken_run_waits_in_the_queue_for_its_batch_and_is_stored_after_it(pool, settings, conn):
    wf = WorkflowBuilder("twice").phase("Running").node("twice", "Running")
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        running = ingestor.translate_event(WatchEvent.model_validate(wf.event("ADDED", resource_version=10)))
        batch = await ingestor.take([running])
        newer = wf.phase("Succeeded").node("twice", "Succeeded").event(resource_version=11)
        await ingestor.submit(WatchEvent.model_validate(newer))
        for _ in range(20):  # every chance for a writer to take it
            await asyncio.sleep(0)
        assert len(ingestor.queue) == 1 and ingestor.queue.in_progress == 1  # waiting, behind the batch
        await ingestor.write_taken(batch)
        await ingestor.drain()
    assert await conn.fetchval("SELECT phase FROM runs WHERE name = 'twice'") == "Succeeded"
    assert ingestor.stats.errors["write_failed"] == 0
