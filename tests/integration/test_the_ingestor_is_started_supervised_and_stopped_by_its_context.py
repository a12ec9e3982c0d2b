"""`async with build_ingestor(...)`: entering starts the writers, a writer that dies fails the ingestor at
once (drain() raises instead of waiting forever), and leaving writes what is queued within
RUNLEDGER_INGEST_SHUTDOWN_GRACE_SECONDS and no longer, with no writer task left behind."""

from __future__ import annotations

import asyncio
import time

import pytest

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from runledger.store.writer import RunWriter
from tests.support.builders import WorkflowBuilder


class WriterBug(BaseException):
    """Nothing the writers guard against: what a bug in them looks like."""


class BrokenWriter(RunWriter):
    async def write(self, conn, states, *, seen=None):
        raise WriterBug("the writer broke")


class StuckWriter(RunWriter):
    """A write that never ends (a database that accepts the statement and never answers)."""

    async def write(self, conn, states, *, seen=None):
        await asyncio.Event().wait()


def running(name: str) -> WatchEvent:
    return WatchEvent.model_validate(WorkflowBuilder(name=name).phase("Running").event("ADDED"))


def writer_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("ingest-writer-") and not t.done()]


async def test_leaving_the_context_writes_what_is_queued_and_ends_every_writer(pool, settings, conn):
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        assert len(writer_tasks()) == settings.ingest.workers
        for i in range(5):
            await ingestor.submit(running(f"wf-{i}"))
    assert ingestor.drained and not writer_tasks()
    assert await conn.fetchval("SELECT count(*) FROM runs") == 5


async def test_a_writer_that_dies_fails_the_ingestor_at_once(pool, settings):
    with pytest.raises(WriterBug):
        async with build_ingestor(pool=pool, settings=settings, writer=BrokenWriter()) as ingestor:
            await ingestor.submit(running("wf"))
            await asyncio.wait_for(ingestor.drain(), 10)  # raises why, instead of waiting for ever
    assert not ingestor.drained and not writer_tasks()


async def test_the_stop_waits_for_the_grace_and_no_longer(pool, settings):
    grace = 0.5
    ingestor = build_ingestor(pool=pool, settings=settings.updated(ingest={"shutdown_grace_seconds": grace}),
                        writer=StuckWriter())  # fmt: skip
    async with ingestor:
        await ingestor.submit(running("wf"))
        started = time.monotonic()
    assert grace <= time.monotonic() - started < grace + 5
    assert not ingestor.drained and not writer_tasks()
