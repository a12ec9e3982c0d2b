"""Each API request reads in one read-only snapshot whose statements Postgres cuts at the API's timeout."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web

from runledger.api import keys
from runledger.api.snapshot import snapshot
from runledger.store import connection as db


def request_for(pool, settings) -> web.Request:
    app = web.Application()
    app[keys.POOL], app[keys.SETTINGS] = pool, settings
    return type("FakeRequest", (), {"app": app})()  # snapshot() only reads request.app


async def test_a_request_cannot_run_longer_than_the_api_statement_timeout(pool, settings):
    request = request_for(pool, settings.model_copy(update={"api_statement_timeout_ms": 50}))
    async with snapshot(request) as conn:
        assert await conn.fetchval("SHOW statement_timeout") == "50ms"
        assert await conn.fetchval("SHOW transaction_read_only") == "on"
        # User values vary in selectivity by orders of magnitude: no generic plans, no parallel start-up.
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
        assert await conn.fetchval("SHOW max_parallel_workers_per_gather") == "0"
    with pytest.raises(asyncpg.QueryCanceledError):
        async with snapshot(request) as conn:
            await conn.execute("SELECT pg_sleep(2)")


async def test_a_request_that_binds_only_ids_may_reuse_cached_plans_under_the_same_limits(pool, settings):
    request = request_for(pool, settings.model_copy(update={"api_statement_timeout_ms": 50}))
    async with snapshot(request, filters=False) as conn:
        assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
        assert await conn.fetchval("SHOW statement_timeout") == "50ms"
        assert await conn.fetchval("SHOW transaction_read_only") == "on"
        assert await conn.fetchval("SHOW max_parallel_workers_per_gather") == "0"


async def test_the_timeout_ends_with_the_request(dsn, settings):
    one = await db.create_pool(dsn, settings=settings.model_copy(update={"database_pool_min": 1, "database_pool_max": 1}))
    try:
        request = request_for(one, settings.model_copy(update={"api_statement_timeout_ms": 50}))
        async with snapshot(request) as conn:
            assert await conn.fetchval("SHOW statement_timeout") == "50ms"
            backend = conn.get_server_pid()
        async with one.acquire() as same:
            assert same.get_server_pid() == backend  # the pool's one connection: the request's, back in the pool
            assert await same.fetchval("SHOW statement_timeout") == f"{settings.database_statement_timeout_ms // 1000}s"
    finally:
        await one.close()
