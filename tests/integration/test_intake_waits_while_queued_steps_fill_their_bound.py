"""Backpressure by size: intake waits while the states queued or being written hold too many steps."""

from __future__ import annotations

import asyncio

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder


def run_with_steps(name: str, steps: int) -> WatchEvent:
    builder = WorkflowBuilder(name).phase("Running").node("root", "Running", type="DAG")
    for i in range(steps - 1):
        builder.node(f"n{i}", "Succeeded", parent="root")
    return WatchEvent.model_validate(builder.event("ADDED"))


async def test_a_run_beyond_the_step_bound_waits_for_the_writers_and_then_is_stored(pool, settings, conn):
    ingestor = build_ingestor(pool=pool, settings=settings.updated(ingest={"max_pending_steps": 100}))
    for i in range(3):
        await ingestor.submit(run_with_steps(f"wf-{i}", 29))
    fourth = asyncio.create_task(ingestor.submit(run_with_steps("wf-3", 29)), name="fourth-submit")
    try:
        done, _ = await asyncio.wait({fourth}, timeout=0.5)
        assert not done, "the fourth run was queued past the bound while nothing was written"
        async with ingestor:
            await asyncio.wait_for(fourth, 30)
            await ingestor.drain()
    finally:
        fourth.cancel()
    assert await conn.fetchval("SELECT count(*) FROM runs") == 4


async def test_a_single_run_larger_than_the_bound_is_still_taken(pool, settings, conn):
    async with build_ingestor(pool=pool, settings=settings.updated(ingest={"max_pending_steps": 10})) as ingestor:
        await asyncio.wait_for(ingestor.submit(run_with_steps("big", 50)), 30)
        await ingestor.drain()
    assert await conn.fetchval("SELECT count(*) FROM steps") == 50
