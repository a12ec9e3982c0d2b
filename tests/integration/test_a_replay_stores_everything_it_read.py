"""`runledger replay` ends when every run it read is stored: the shutdown grace belongs to SIGTERM."""

from __future__ import annotations

import asyncpg

from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import replay_command, write_events


def small_run(name: str) -> dict:
    return WorkflowBuilder(name).phase("Succeeded").node(name, "Succeeded").event("ADDED")


def large_run(name: str, nodes: int) -> dict:
    builder = WorkflowBuilder(name).phase("Running").node("root", "Running", type="DAG")
    for i in range(nodes):
        builder.node(f"n{i}", "Succeeded", parent="root")
    return builder.event("ADDED")


async def stored_names(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {r["name"] for r in await conn.fetch("SELECT name FROM runs")}
    finally:
        await conn.close()


async def test_a_replay_whose_writes_outlast_the_shutdown_grace_stores_every_run(dsn, settings, tmp_path):
    names = [f"wf-{i}" for i in range(600)]
    path = write_events(tmp_path / "many.jsonl", [small_run(n) for n in names])
    slow = settings.updated(database={"url": dsn}, ingest={"shutdown_grace_seconds": 0.001, "batch_runs": 8})
    code, counts = await replay_command(slow, [path])
    assert code == 0
    assert counts["runs"] == "600" and counts["errors"] == "0"
    assert await stored_names(dsn) == set(names)


async def test_a_large_workflow_among_small_ones_is_stored_with_them(dsn, settings, tmp_path):
    events = [small_run("before"), large_run("large", 3000), small_run("after")]
    path = write_events(tmp_path / "mixed.jsonl", events)
    code, counts = await replay_command(
        settings.updated(database={"url": dsn}, ingest={"shutdown_grace_seconds": 0.001}), [path]
    )
    assert code == 0 and counts["runs"] == "3" and counts["steps"] == "3003"
    assert await stored_names(dsn) == {"before", "large", "after"}
