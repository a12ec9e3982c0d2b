"""Lineage's parameter edges are stored by the writer (and backfilled by migration 0022): at every
point they are the edges the reads used to infer from the stored parameters, steps and step edges."""

from __future__ import annotations

from runledger.demo.artifact_store import bundled_recording
from runledger.store import migrations
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest, replay_command
from tests.support.lineage import READ_TIME_PARAMETER_EDGES, STORED_PARAMETER_EDGES
from tests.support.real_objects import fixture_files
from tests.support.workflows import load

MODEL = "s3://mlpipeline/runs/p/model-7f3a"


async def stored_and_inferred(conn) -> tuple[list[tuple], list[tuple]]:
    stored = [tuple(r) for r in await conn.fetch(STORED_PARAMETER_EDGES)]
    return stored, [tuple(r) for r in await conn.fetch(READ_TIME_PARAMETER_EDGES)]


async def store_the_demo_and_every_fixture(pool, settings, dsn) -> None:
    code, counts = await replay_command(settings.updated(database={"url": dsn}), [bundled_recording()])
    assert code == 0 and counts["errors"] == "0"
    await ingest(pool, settings, [{"type": "ADDED", "object": load(p)} for p in fixture_files()])


async def test_after_the_demo_and_every_fixture_the_stored_edges_are_those_the_reads_inferred(pool, settings, dsn, conn):
    await store_the_demo_and_every_fixture(pool, settings, dsn)
    stored, inferred = await stored_and_inferred(conn)
    assert len({r[0] for r in inferred}) >= 3  # not vacuous: several runs pass parameters
    assert stored == inferred


async def test_the_migration_backfills_the_edges_of_runs_stored_before_it(pool, settings, dsn, conn):
    await store_the_demo_and_every_fixture(pool, settings, dsn)
    await conn.execute("DROP TABLE parameter_edges; DROP FUNCTION parameter_edges_inferred(text[])")
    await conn.execute("DELETE FROM schema_migrations WHERE version = 22")
    assert [m.version for m in await migrations.migrate(conn)] == [22]
    stored, inferred = await stored_and_inferred(conn)
    assert stored and stored == inferred


async def test_the_edges_follow_a_run_as_its_steps_and_values_change(pool, settings, conn):
    def outputs(value: str) -> dict:
        return {"parameters": [{"name": "model", "value": value}]}

    wf = WorkflowBuilder(name="moving")
    wf.phase("Running").node("root", "Running", type="DAG", at="2026-01-01T00:00:00Z")
    wf.node("a", "Running", parent="root", at="2026-01-01T00:10:00Z")
    edges_after: list[list[tuple]] = []

    async def step(*, expect: set[tuple[str, str]]) -> None:
        await ingest(pool, settings, [wf.event()])
        stored, inferred = await stored_and_inferred(conn)
        assert stored == inferred
        assert {(r[1], r[2]) for r in stored} == expect
        edges_after.append(stored)

    await step(expect=set())
    # b (a's child) takes a's value while a has not finished: not fed yet.
    wf.node("a", "Running", outputs=outputs(MODEL))
    wf.node("b", "Running", parent="a", at="2026-01-01T00:20:00Z",
            inputs={"parameters": [{"name": "model_path", "value": MODEL}]})  # fmt: skip
    await step(expect=set())
    # a finishes before b started (only a's step row changes): a fed b.
    wf.node("a", "Succeeded", at="2026-01-01T00:11:00Z")
    await step(expect={("a", "b")})
    assert edges_after[-1][0][3] == ["model_path"]
    # Eight more steps output it: held by nine, the value links nothing.
    for i in range(8):
        wf.node(f"n{i}", "Succeeded", parent="root", at="2026-01-01T00:12:00Z", outputs=outputs(MODEL))
    await step(expect=set())
    # They are gone from the workflow again (their parameters deleted): a feeds b again.
    nodes = wf.obj["status"]["nodes"]
    for i in range(8):
        del nodes[f"n{i}"]
    nodes["root"]["children"] = ["a"]
    await step(expect={("a", "b")})
