"""A read ends its own snapshot and changes settings with SET LOCAL only, so the pool does not reset
the connection after it (a round trip undoing nothing, before the response could leave); every other
use of a pooled connection is still reset as asyncpg does."""

from __future__ import annotations

from runledger.core.settings import DatabaseSettings
from runledger.store import connection as db
from runledger.store.read_routing import ReadRouter


async def test_a_read_is_not_followed_by_the_pools_reset_and_other_uses_are(dsn, settings):
    one = await db.create_pool(dsn, database=DatabaseSettings(pool_min=1, pool_max=1))
    ran: list[str] = []
    try:
        async with one.acquire() as conn:
            reset = conn.get_reset_query()
            conn.add_query_logger(lambda record: ran.append(record.query))
        assert ran == [reset]  # a plain use is reset
        async with ReadRouter(primary=one, database=settings.database, api=settings.api) as reads:
            ran.clear()
            assert await reads.read(lambda conn: conn.fetchval("SELECT 41 + 1")) == 42
            assert ran[1:] == ["SELECT 41 + 1", "COMMIT"]
            ran.clear()
            async with one.acquire() as conn:
                await conn.execute("SET application_name = 'changed'")
            assert ran == ["SET application_name = 'changed'", reset]  # the skip held for one return only
        async with one.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "runledger"
            assert not conn.is_in_transaction()
    finally:
        await one.close()
