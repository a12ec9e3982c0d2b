"""Migrations apply to an empty database, are recorded, and are idempotent under concurrency."""

import asyncio

import asyncpg

from runledger.store import migrations


async def test_all_migrations_apply_to_an_empty_database_and_create_the_schema(empty_dsn):
    conn = await asyncpg.connect(empty_dsn)
    try:
        applied = await migrations.migrate(conn)
        assert [m.version for m in applied] == [m.version for m in migrations.available_migrations()]
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        assert {"runs", "steps", "step_edges", "parameters", "artifact_refs", "transitions", "schema_migrations"} <= tables
        indexes = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename='runs'")}
        assert {"runs_by_namespace", "runs_by_phase", "runs_by_pipeline", "runs_by_kfp_run_id"} <= indexes
        recorded = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in recorded] == [m.version for m in applied]
    finally:
        await conn.close()


async def test_migrating_twice_applies_nothing_the_second_time(empty_dsn):
    conn = await asyncpg.connect(empty_dsn)
    try:
        await migrations.migrate(conn)
        assert await migrations.migrate(conn) == []
        assert await migrations.pending_migrations(conn) == []
    finally:
        await conn.close()


async def test_concurrent_migrators_apply_each_migration_exactly_once(empty_dsn):
    conns = [await asyncpg.connect(empty_dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrations.migrate(c) for c in conns))
        applied = sorted(m.version for result in results for m in result)
        assert applied == [m.version for m in migrations.available_migrations()]
    finally:
        for c in conns:
            await c.close()
