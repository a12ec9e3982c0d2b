"""Storage: an index is kept only for a question no other index answers (migration 0025). A run's
timeline reads through the transitions' unique key, the writer's parameter-edge inference through the
parameters' primary key; artifacts keep one unique index on uri that also serves prefix ranges, and
run arguments one index on their value's first 200 characters that serves equality and prefixes,
the whole value still compared. On a database migrated from before, the dropped indexes are gone
and uri stays unique."""

from __future__ import annotations

import asyncpg
import pytest

from runledger.store import migrations, run_listing
from runledger.store.sql_blocks import q
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest

DROPPED = {"transitions_by_run", "parameters_by_step_value", "artifacts_by_uri_prefix", "parameters_by_value_prefix"}
LONG = "x" * 200  # as long as the indexed part of a value


async def _indexes(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
    return {r["indexname"]: r["indexdef"] for r in rows}


async def _plan(conn: asyncpg.Connection, sql: str, *args: object) -> str:
    # The test's tables are tiny: a sequential scan would win; the question is which index can serve.
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        return "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *args))


async def test_the_dropped_indexes_are_gone_and_uri_has_one_unique_index(conn):
    indexes = await _indexes(conn)
    assert DROPPED.isdisjoint(indexes)
    on_uri = {name: d for name, d in indexes.items() if " ON public.artifacts " in d and "(uri" in d}
    assert list(on_uri) == ["artifacts_uri_key"]
    assert on_uri["artifacts_uri_key"].startswith("CREATE UNIQUE INDEX")
    assert "text_pattern_ops" in on_uri["artifacts_uri_key"]


async def test_a_run_timeline_reads_through_the_transitions_unique_key(conn):
    plan = await _plan(conn, q("list_transitions"), "some-run")
    assert "transitions_run_id_step_id_to_phase_at_key" in plan


async def test_artifacts_by_uri_and_by_uri_prefix_read_through_the_one_unique_index(conn):
    by_uri = await _plan(conn, "SELECT id FROM artifacts WHERE uri = $1", "s3://b/k")
    by_prefix = await _plan(conn, "SELECT id FROM artifacts WHERE uri LIKE 's3://b/runs/%'")
    assert "artifacts_uri_key" in by_uri
    assert "artifacts_uri_key" in by_prefix and "~>=~" in by_prefix


async def test_an_argument_longer_than_its_indexed_part_is_matched_whole(pool, settings):
    events = []
    for name, value in (("tail-a", LONG + "a"), ("tail-b", LONG + "b"), ("head", LONG)):
        wf = WorkflowBuilder(name=name, namespace="ml")
        wf.obj["spec"]["arguments"]["parameters"] = [{"name": "prompt", "value": value}]
        events.append(wf.event("ADDED"))
    await ingest(pool, settings, events)
    async with pool.acquire() as conn:
        for value, sort, expected in ((LONG + "a", "-created_at", ["tail-a"]), (LONG, "name", ["head"]), (LONG, "-created_at", ["head"])):
            query = run_listing.RunListQuery(limit=10, sort=sort, params=(run_listing.ParamFilter(name="prompt", value=value),))
            rows, _, _ = await run_listing.list_runs(conn, query)
            assert [r["name"] for r in rows] == expected
        prefixed = run_listing.RunListQuery(limit=10, sort="name", params=(run_listing.ParamFilter(name="prompt", value=LONG, prefix=True),))
        rows, _, _ = await run_listing.list_runs(conn, prefixed)
        assert [r["name"] for r in rows] == ["head", "tail-a", "tail-b"]


async def test_a_uri_is_stored_once_and_a_rediscovery_is_a_conflict(conn):
    insert = "INSERT INTO artifacts (uri, bucket, key) VALUES ($1, 'b', 'k') ON CONFLICT (uri) DO NOTHING RETURNING id"
    assert await conn.fetchval(insert, "s3://b/k") is not None
    assert await conn.fetchval(insert, "s3://b/k") is None
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute("INSERT INTO artifacts (uri, bucket, key) VALUES ('s3://b/k', 'b', 'k')")


async def test_a_database_migrated_from_before_keeps_its_artifacts_and_their_uniqueness(empty_dsn):
    conn = await asyncpg.connect(empty_dsn)
    try:
        [storage] = [m for m in migrations.available_migrations() if m.name == "indexes_no_statement_needs"]
        earlier = [m for m in migrations.available_migrations() if m.version < storage.version]
        for migration in earlier:
            await conn.execute(migration.sql)
        await conn.execute("INSERT INTO artifacts (uri, bucket, key) VALUES ('s3://b/one', 'b', 'one'), ('s3://b/two', 'b', 'two')")
        assert DROPPED <= set(await _indexes(conn))
        async with conn.transaction():
            await conn.execute(storage.sql)
        assert DROPPED.isdisjoint(await _indexes(conn))
        assert await conn.fetchval("SELECT count(*) FROM artifacts WHERE uri LIKE 's3://b/%'") == 2
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO artifacts (uri, bucket, key) VALUES ('s3://b/one', 'b', 'one')")
    finally:
        await conn.close()
