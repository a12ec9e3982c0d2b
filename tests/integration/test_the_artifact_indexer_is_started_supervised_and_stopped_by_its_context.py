"""`async with build_indexer(...)`: a worker that dies fails the indexer at once (wait_drained()
raises instead of waiting forever), and leaving stops within the grace even while S3 does not
answer, with no indexer task left behind."""

from __future__ import annotations

import asyncio
import time

import pytest

from runledger.service import build_indexer
from tests.support.artifacts import producing_workflow
from tests.support.ingesting import ingest
from tests.support.s3 import s3_settings
from tests.support.waiting import eventually


class HeadBug(Exception):
    pass


class BrokenStore:
    """An object store whose HEAD fails in a way the indexer does not expect (a bug, not S3's answer)."""

    async def head(self, location):
        raise HeadBug("HEAD broke")

    async def close(self) -> None:
        return None


def indexer_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("artifacts-") and not t.done()]


async def test_a_worker_that_dies_fails_the_indexer_at_once(pool, s3, tmp_path):
    settings = s3_settings(s3, tmp_path)
    await ingest(pool, settings, [producing_workflow("a", "model.bin")])
    with pytest.raises(HeadBug):
        async with build_indexer(pool=pool, settings=settings, store=BrokenStore(), poll_seconds=0.02) as indexer:
            await asyncio.wait_for(indexer.wait_drained(), 10)  # raises why, instead of waiting for ever
    assert not indexer_tasks()


async def test_the_stop_waits_for_objects_in_flight_no_longer_than_the_grace(pool, conn, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path)
    await s3_objects.put("mlpipeline", "slow.bin", b"1")
    s3.slow("/mlpipeline/slow.bin", seconds=4)  # well past the grace
    await ingest(pool, settings, [producing_workflow("a", "slow.bin")])
    grace = 0.5
    async with build_indexer(pool=pool, settings=settings, poll_seconds=0.02, grace=grace) as indexer:

        async def in_flight() -> bool:
            return indexer._in_flight > 0

        await eventually(in_flight)
        started = time.monotonic()
    assert grace <= time.monotonic() - started < grace + 2
    assert not indexer_tasks()
    assert await conn.fetchval("SELECT count(*) FROM artifacts WHERE state = 'indexed'") == 0
