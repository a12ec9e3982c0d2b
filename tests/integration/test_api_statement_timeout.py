"""Each API request reads in one read-only snapshot whose statements Postgres cuts at the API's timeout."""

from __future__ import annotations

import asyncpg
import pytest

from runledger.core.settings import DatabaseSettings
from runledger.store import connection as db
from runledger.store.read_routing import ReadRouter


async def shown(conn: asyncpg.Connection) -> dict[str, str]:
    names = ("statement_timeout", "transaction_read_only", "plan_cache_mode", "max_parallel_workers_per_gather")
    return {name: await conn.fetchval(f"SHOW {name}") for name in names}


async def test_a_request_cannot_run_longer_than_the_api_statement_timeout(pool, settings):
    async with ReadRouter(primary=pool, database=settings.database, api=settings.updated(api={"statement_timeout_ms": 50}).api) as reads:
        # User values vary in selectivity by orders of magnitude: no generic plans, no parallel start-up.
        assert await reads.read(shown, custom_plans=True) == {
            "statement_timeout": "50ms", "transaction_read_only": "on",
            "plan_cache_mode": "force_custom_plan", "max_parallel_workers_per_gather": "0",
        }  # fmt: skip
        with pytest.raises(asyncpg.QueryCanceledError):
            await reads.read(lambda conn: conn.execute("SELECT pg_sleep(2)"), custom_plans=True)


async def test_a_request_that_binds_only_ids_may_reuse_cached_plans_under_the_same_limits(pool, settings):
    async with ReadRouter(primary=pool, database=settings.database, api=settings.updated(api={"statement_timeout_ms": 50}).api) as reads:
        assert await reads.read(shown) == {
            "statement_timeout": "50ms", "transaction_read_only": "on",
            "plan_cache_mode": "auto", "max_parallel_workers_per_gather": "0",
        }  # fmt: skip


async def test_the_timeout_ends_with_the_request(dsn, settings):
    one = await db.create_pool(dsn, database=DatabaseSettings(pool_min=1, pool_max=1))
    try:
        async with ReadRouter(primary=one, database=settings.database, api=settings.updated(api={"statement_timeout_ms": 50}).api) as reads:
            backend = await reads.read(lambda conn: conn.fetchval("SELECT pg_backend_pid()"))
        async with one.acquire() as same:
            assert same.get_server_pid() == backend  # the pool's one connection: the request's, back in the pool
            assert await same.fetchval("SHOW statement_timeout") == f"{settings.database.statement_timeout_ms // 1000}s"
    finally:
        await one.close()
