"""Runs whose phases change step by step, ingested with OpenLineage export on, and what was queued."""

from __future__ import annotations

import asyncpg

from tests.support.builders import WorkflowBuilder


def workflow_histories(runs: int) -> list[dict]:
    """Watch events of `runs` workflows, each Pending → Running → Succeeded with two steps (one failing)."""
    events = []
    for i in range(runs):
        wf = WorkflowBuilder(name=f"wf-{i}")
        events.append(wf.event("ADDED"))
        wf.phase("Running", at="2026-01-01T00:00:05Z").node("root", "Running", type="DAG", at="2026-01-01T00:00:05Z")
        wf.node("a", "Running", parent="root", at="2026-01-01T00:00:06Z")
        events.append(wf.event())
        wf.node("a", "Succeeded", at="2026-01-01T00:00:07Z").node("b", "Running", parent="root", at="2026-01-01T00:00:08Z")
        events.append(wf.event())
        wf.node("b", "Failed", at="2026-01-01T00:00:09Z", message="exit code 1")
        wf.node("root", "Failed", at="2026-01-01T00:00:09Z").phase("Failed", at="2026-01-01T00:00:09Z")
        events.append(wf.event())
    return events


async def queued(conn: asyncpg.Connection) -> list[int]:
    return [r["transition_id"] for r in await conn.fetch("SELECT transition_id FROM openlineage_outbox ORDER BY 1")]
