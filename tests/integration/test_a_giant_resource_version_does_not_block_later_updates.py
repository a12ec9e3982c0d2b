"""A resourceVersion too long to be an etcd revision is kept as text and orders nothing."""

from __future__ import annotations

from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest

GIANT = "9" * 5000


async def test_a_5000_digit_version_is_stored_and_normal_updates_still_apply(pool, settings, conn):
    wf = WorkflowBuilder().node("a", "Running")
    first = await ingest(pool, settings, [wf.phase("Running").event("ADDED", resource_version=GIANT)])
    assert await conn.fetchval("SELECT resource_version FROM runs") == GIANT
    assert first.stats.warnings["resource_version"] == 1

    later = await ingest(pool, settings, [
        wf.node("a", "Succeeded").event(resource_version=11),
        wf.phase("Succeeded").event(resource_version=12),
    ])  # fmt: skip
    assert not later.stats.errors
    row = await conn.fetchrow("SELECT phase, resource_version FROM runs")
    assert (row["phase"], row["resource_version"]) == ("Succeeded", "12")
    assert await conn.fetchval("SELECT phase FROM steps WHERE id = 'a'") == "Succeeded"
