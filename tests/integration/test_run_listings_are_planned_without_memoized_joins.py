"""A page of runs joins each of its runs once, so a Memoize node before runs_pkey never hits and only
costs: a read can turn memoizing off for its own snapshot (run listings do), and other reads, and
the connection once back in the pool, keep Postgres' default."""

from __future__ import annotations

from runledger.store.read_routing import ReadRouter


async def test_a_read_may_turn_memoizing_off_for_its_snapshot_only(pool, settings):
    async with ReadRouter(primary=pool, database=settings.database, api=settings.api) as reads:
        assert await reads.read(lambda conn: conn.fetchval("SHOW enable_memoize"), memoize=False) == "off"
        assert await reads.read(lambda conn: conn.fetchval("SHOW enable_memoize")) == "on"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW enable_memoize") == "on"

