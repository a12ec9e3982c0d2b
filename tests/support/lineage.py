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


# Parameter edges as the reads inferred them before they were stored (the upstream rule of the old
# lineage_upstream, input by input, with lineage_producers and lineage_ancestor spliced in): the
# stored edges must say the same.
READ_TIME_PARAMETER_EDGES = """
SELECT c.run_id, c.source_id, c.target_id, array_agg(DISTINCT c.name ORDER BY c.name) AS names
FROM (
    SELECT v.run_id, source.id AS source_id, v.step_id AS target_id, v.name
    FROM parameters v
    JOIN steps sb ON sb.run_id = v.run_id AND sb.id = v.step_id
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(x.step_id), ARRAY[]::text[]) AS ids
        FROM (
            SELECT x.step_id FROM parameters x
            WHERE x.run_id = v.run_id AND x.direction = 'output' AND x.step_id <> ''
              AND md5(x.value) = md5(v.value) AND x.value = v.value AND NOT x.truncated
            LIMIT 9
        ) x
    ) producers
    CROSS JOIN unnest(producers.ids) AS source (id)
    WHERE v.direction = 'input' AND v.value <> '' AND NOT v.truncated AND cardinality(producers.ids) <= 8
      AND source.id <> v.step_id
      AND (SELECT sa.finished_at FROM steps sa WHERE sa.run_id = v.run_id AND sa.id = source.id) <= sb.started_at
) c
WHERE EXISTS (
    WITH RECURSIVE up (id) AS (
        SELECT e.parent_id FROM step_edges e WHERE e.run_id = c.run_id AND e.child_id = c.target_id
      UNION
        SELECT e.parent_id FROM step_edges e JOIN up ON e.run_id = c.run_id AND e.child_id = up.id
    )
    SELECT 1 FROM up WHERE up.id = c.source_id
)
GROUP BY c.run_id, c.source_id, c.target_id
ORDER BY 1, 2, 3
"""
STORED_PARAMETER_EDGES = "SELECT run_id, source_id, target_id, names FROM parameter_edges ORDER BY 1, 2, 3"
