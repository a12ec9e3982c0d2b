"""A read of one statement is a snapshot by itself: it runs without BEGIN and COMMIT, under the
same limits set on the session once per connection, not per request; any other user of the
connection gets it back as the pool's reset leaves it."""

from __future__ import annotations

import asyncpg
import pytest

from runledger.core.settings import DatabaseSettings
from runledger.store import connection as db
from runledger.store.read_routing import ReadRouter


async def limits(conn: asyncpg.Connection) -> tuple[str, ...]:
    # One statement, as the reads that say so run: all the settings in one row.
    row = await conn.fetchrow(
        "SELECT current_setting('statement_timeout'), current_setting('transaction_read_only'),"
        " current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather'),"
        " current_setting('enable_memoize')"
    )
    assert not conn.is_in_transaction()
    return tuple(row.values())


@pytest.fixture
async def one(dsn):
    pool = await db.create_pool(dsn, database=DatabaseSettings(pool_min=1, pool_max=1))
    try:
        yield pool
    finally:
        await pool.close()


async def test_reads_of_one_statement_send_that_statement_alone_once_their_limits_are_set(one, settings):
    api = settings.updated(api={"statement_timeout_ms": 500}).api
    ran: list[str] = []
    async with ReadRouter(primary=one, database=settings.database, api=api) as reads:
        async with one.acquire() as conn:
            conn.add_query_logger(lambda record: ran.append(record.query))
        ran.clear()
        first = await reads.read(limits, custom_plans=True, memoize=False, one_statement=True)
        assert first == ("500ms", "on", "force_custom_plan", "0", "off")
        assert len(ran) == 2 and ran[0].startswith("SET statement_timeout")  # the limits, then the statement
        ran.clear()
        assert await reads.read(limits, custom_plans=True, memoize=False, one_statement=True) == first
        assert len(ran) == 1 and ran[0].startswith("SELECT")  # no BEGIN, no COMMIT, no limits, no reset
        ran.clear()
        assert await reads.read(limits, one_statement=True) == ("500ms", "on", "auto", "0", "on")
        assert len(ran) == 2  # other limits: set once more


async def test_a_read_of_one_statement_is_cut_at_the_api_timeout_and_cannot_write(one, settings):
    api = settings.updated(api={"statement_timeout_ms": 500}).api
    async with ReadRouter(primary=one, database=settings.database, api=api) as reads:
        with pytest.raises(asyncpg.QueryCanceledError):
            await reads.read(lambda conn: conn.execute("SELECT pg_sleep(2)"), one_statement=True)
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await reads.read(lambda conn: conn.execute("CREATE TABLE written (id int)"), one_statement=True)


async def test_reads_of_several_statements_keep_their_snapshot_on_a_connection_with_those_limits(one, settings):
    async with ReadRouter(primary=one, database=settings.database, api=settings.api) as reads:
        await reads.read(limits, one_statement=True)

        async def two(conn: asyncpg.Connection) -> tuple[str, bool]:
            return await conn.fetchval("SHOW transaction_isolation"), conn.is_in_transaction()

        assert await reads.read(two) == ("repeatable read", True)


async def test_any_other_user_of_the_connection_gets_it_without_the_reads_limits(one, settings):
    api = settings.updated(api={"statement_timeout_ms": 500}).api
    async with ReadRouter(primary=one, database=settings.database, api=api) as reads:
        backend = await reads.read(lambda conn: conn.fetchval("SELECT pg_backend_pid()"), one_statement=True)
        async with one.acquire() as conn:
            assert conn.get_server_pid() == backend  # the pool's one connection, the read's
            assert await conn.fetchval("SHOW statement_timeout") == f"{settings.database.statement_timeout_ms // 1000}s"
            await conn.execute("CREATE TEMPORARY TABLE written (id int)")  # not read-only
        # And the next read sets its limits again.
        assert await reads.read(limits, one_statement=True) == ("500ms", "on", "auto", "0", "on")
