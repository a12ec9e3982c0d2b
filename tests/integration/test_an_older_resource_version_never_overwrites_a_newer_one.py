"""A lower resourceVersion of a run is dropped, whether it arrives in the same replay or a later one."""

from __future__ import annotations

from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest


async def stored(conn) -> tuple[str, str]:
    row = await conn.fetchrow("SELECT phase, resource_version FROM runs")
    return row["phase"], row["resource_version"]


async def test_within_one_replay_the_highest_version_wins_over_the_latest_arrival(pool, settings, conn):
    wf = WorkflowBuilder()
    newer = wf.phase("Succeeded").event("ADDED", resource_version=10)
    older = wf.phase("Running").event(resource_version=5)
    ingestor = await ingest(pool, settings, [newer, older])
    assert await stored(conn) == ("Succeeded", "10")
    assert ingestor.stats.runs_stale == 1


async def test_a_later_replay_of_an_older_version_leaves_the_stored_run_alone(pool, settings, conn):
    wf = WorkflowBuilder()
    await ingest(pool, settings, [wf.phase("Succeeded").event("ADDED", resource_version=10)])
    ingestor = await ingest(pool, settings, [wf.phase("Running").event(resource_version=5)])
    assert await stored(conn) == ("Succeeded", "10")
    assert ingestor.stats.runs_stale == 1
