"""Backpressure by memory: intake waits while the states queued or being written take too many bytes,
even with room for their steps (a run's parameters and artifacts weigh more than its steps)."""

from __future__ import annotations

import asyncio

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder


def run_with_a_long_argument(name: str, *, value_bytes: int) -> WatchEvent:
    builder = WorkflowBuilder(name).phase("Running").node("root", "Running", type="DAG")
    builder.obj["spec"]["arguments"]["parameters"].append({"name": "blob", "value": "x" * value_bytes})
    return WatchEvent.model_validate(builder.event("ADDED"))


async def test_a_run_beyond_the_memory_bound_waits_for_the_writers_and_then_is_stored(pool, settings, conn):
    bounded = settings.updated(ingest={"max_pending_bytes": 250_000, "max_pending_steps": 1_000})
    ingestor = build_ingestor(pool=pool, settings=bounded)
    for i in range(2):
        await ingestor.submit(run_with_a_long_argument(f"wf-{i}", value_bytes=100_000))
    third = asyncio.create_task(ingestor.submit(run_with_a_long_argument("wf-2", value_bytes=100_000)), name="third")
    try:
        done, _ = await asyncio.wait({third}, timeout=0.5)
        assert not done, "the third run was queued past the memory bound while nothing was written"
        async with ingestor:
            await asyncio.wait_for(third, 30)
            await ingestor.drain()
    finally:
        third.cancel()
    assert await conn.fetchval("SELECT count(*) FROM runs") == 3


async def test_a_single_run_larger_than_the_memory_bound_is_still_taken(pool, settings, conn):
    bounded = settings.updated(ingest={"max_pending_bytes": 10_000})
    async with build_ingestor(pool=pool, settings=bounded) as ingestor:
        await asyncio.wait_for(ingestor.submit(run_with_a_long_argument("big", value_bytes=50_000)), 30)
        await ingestor.drain()
    assert await conn.fetchval("SELECT length(value) FROM parameters WHERE name = 'blob'") == 50_000


async def test_a_bulk_batch_past_the_memory_bound_waits_for_the_batch_being_written(pool, settings, conn):
    bounded = settings.updated(ingest={"max_pending_bytes": 150_000, "max_pending_steps": 1_000})
    async with build_ingestor(pool=pool, settings=bounded) as ingestor:
        first = await ingestor.take([ingestor.translate_event(run_with_a_long_argument("bulk-0", value_bytes=100_000))])
        second = asyncio.create_task(
            ingestor.take([ingestor.translate_event(run_with_a_long_argument("bulk-1", value_bytes=100_000))])
        )
        try:
            done, _ = await asyncio.wait({second}, timeout=0.5)
            assert not done, "a second batch was taken past the memory bound while the first was unwritten"
            await ingestor.write_taken(first)
            await ingestor.write_taken(await asyncio.wait_for(second, 30))
        finally:
            second.cancel()
    assert await conn.fetchval("SELECT count(*) FROM runs") == 2
