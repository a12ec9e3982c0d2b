"""Every real fixture replays into Postgres, and what is stored matches the raw object."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.ingesting import dump, ingest
from tests.support.real_objects import fixture_files
from tests.support.workflows import load, raw_nodes

FIXTURES = fixture_files()


@pytest.mark.parametrize("path", FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURES])
async def test_each_fixture_is_stored_with_all_its_steps_edges_parameters_and_artifacts(path, pool, settings, conn):
    obj = load(path)
    ingestor = await ingest(pool, settings, [{"type": "ADDED", "object": obj}])
    assert sum(ingestor.stats.errors.values()) == 0
    run_id = translate_workflow(obj).run.id
    nodes = raw_nodes(obj)
    run = await conn.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)
    assert run["phase"] == ((obj.get("status") or {}).get("phase") or "")
    assert await conn.fetchval("SELECT count(*) FROM steps WHERE run_id = $1", run_id) == len(nodes)
    edges = sum(len(n.get("children") or []) for n in nodes.values())
    assert await conn.fetchval("SELECT count(*) FROM step_edges WHERE run_id = $1", run_id) == edges
    keys = {
        (a.get("s3") or {}).get("key")
        for n in nodes.values()
        for io in ("inputs", "outputs")
        for a in (n.get(io) or {}).get("artifacts") or []
    }
    stored = {r["s3_key"] for r in await conn.fetch("SELECT s3_key FROM artifact_refs WHERE run_id = $1", run_id)}
    assert stored == (keys if nodes else set())
    phases = {n.get("phase") for n in nodes.values() if n.get("phase")}
    entered = {r["to_phase"] for r in await conn.fetch("SELECT to_phase FROM transitions WHERE run_id = $1 AND step_id <> ''", run_id)}
    assert entered == phases


async def test_replaying_all_fixtures_twice_leaves_the_database_identical(pool, settings, conn):
    events = [{"type": "ADDED", "object": load(p)} for p in FIXTURES]
    await ingest(pool, settings, events)
    first = await dump(conn)
    again = await ingest(pool, settings, events)
    assert again.stats.rows_written == 0
    assert await dump(conn) == first
