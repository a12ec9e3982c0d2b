"""A statement timeout is no outage (Postgres answers, the query ran too long), yet it is no reason
to stop either: while the artifact queue is locked past the statement timeout, the indexer counts
the failed claims and records, keeps trying, and indexes everything once the lock is gone."""

from __future__ import annotations

from runledger.store import connection as db
from tests.support.artifacts import indexing, producing_workflow
from tests.support.ingesting import ingest
from tests.support.s3 import s3_settings
from tests.support.waiting import eventually


async def test_claims_that_time_out_are_retried_not_fatal(dsn, s3, s3_objects, tmp_path, conn):
    settings = s3_settings(s3, tmp_path, database={"statement_timeout_ms": 200}, ingest={"retry_max_seconds": 0.2})
    await s3_objects.put("mlpipeline", "model.bin", b"weights")
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        async with indexing(pool, settings) as indexer:
            async with conn.transaction():
                await conn.execute("LOCK TABLE artifact_queue IN ACCESS EXCLUSIVE MODE")
                await eventually(lambda: _db_errors(indexer, 2), timeout=15)
            assert not indexer.failed.done(), "the indexer stopped on a statement timeout"
            await ingest(pool, settings, [producing_workflow("a", "model.bin")])
            await eventually(lambda: _indexed(indexer, 1), timeout=20)
            assert not indexer.failed.done()
    finally:
        await pool.close()


async def _indexed(indexer, n: int) -> bool:
    return indexer.stats.outcomes["indexed"] >= n


async def _db_errors(indexer, n: int) -> bool:
    return indexer.stats.db_errors >= n
