"""A request whose read fails (a 404, a cancelled statement) ends its snapshot before the pool gets the
connection back: the next request on it starts clean, with no limits of the last one left over."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web

from runledger.core.settings import DatabaseSettings
from runledger.store import connection as db
from runledger.store.read_routing import ReadRouter


async def test_a_failed_request_leaves_its_connection_outside_any_transaction(dsn, settings):
    one = await db.create_pool(dsn, database=DatabaseSettings(pool_min=1, pool_max=1))
    try:
        async with ReadRouter(primary=one, database=settings.database, api=settings.updated(api={"statement_timeout_ms": 50}).api) as reads:

            async def not_found(conn: asyncpg.Connection) -> None:
                await conn.fetchval("SELECT 1")
                raise web.HTTPNotFound()

            with pytest.raises(web.HTTPNotFound):
                await reads.read(not_found)
            with pytest.raises(asyncpg.QueryCanceledError):
                await reads.read(lambda conn: conn.execute("SELECT pg_sleep(2)"))
        async with one.acquire() as same:
            assert not same.is_in_transaction()
            assert await same.fetchval("SHOW transaction_read_only") == "off"
            assert await same.fetchval("SHOW statement_timeout") != "50ms"
    finally:
        await one.close()
