"""Pipeline analytics the slow way: a scan of the runs themselves, to check the rollups against.

Exact percentiles (nearest rank, percentile_disc) and sums straight from runs, steps and pods;
only the failure classification (stats_failure_cause) is shared with the rollups.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

SCAN = """
WITH r AS (
    SELECT r.* FROM runs r
    WHERE r.sort_at >= $1 AND r.sort_at < $2 AND ($3::text[] IS NULL OR r.namespace = ANY ($3::text[]))
), retried AS (
    SELECT s.run_id, count(e.child_id) AS attempts, s.phase
    FROM steps s LEFT JOIN step_edges e ON e.run_id = s.run_id AND e.parent_id = s.id
    WHERE s.type = 'Retry' AND s.run_id IN (SELECT id FROM r)
    GROUP BY s.run_id, s.id, s.phase
), retries AS (
    SELECT run_id, sum(greatest(attempts - 1, 0)) AS retries,
           count(*) FILTER (WHERE phase = 'Succeeded' AND attempts > 1) AS flaky
    FROM retried GROUP BY run_id
), per_run AS (
    SELECT r.*,
           CASE WHEN r.phase IN ('Succeeded', 'Failed', 'Error')
                THEN extract(epoch FROM r.finished_at - r.started_at) END AS duration,
           extract(epoch FROM r.started_at - r.created_at) AS queue,
           coalesce(x.retries, 0) AS retries, coalesce(x.flaky, 0) AS flaky
    FROM r LEFT JOIN retries x ON x.run_id = r.id
)
SELECT coalesce(pipeline_name, '') AS pipeline, count(*) AS n,
       count(*) FILTER (WHERE phase = 'Succeeded') AS succeeded,
       count(*) FILTER (WHERE phase IN ('Failed', 'Error')) AS failed,
       count(duration) FILTER (WHERE duration >= 0) AS duration_n,
       coalesce(sum(duration) FILTER (WHERE duration >= 0), 0) AS duration_sum,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY duration) FILTER (WHERE duration >= 0) AS duration_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY duration) FILTER (WHERE duration >= 0) AS duration_p95,
       count(queue) FILTER (WHERE queue >= 0) AS queue_n,
       coalesce(sum(queue) FILTER (WHERE queue >= 0), 0) AS queue_sum,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY queue) FILTER (WHERE queue >= 0) AS queue_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY queue) FILTER (WHERE queue >= 0) AS queue_p95,
       sum(retries) AS retries, sum(flaky) AS flaky,
       coalesce(sum((resources_duration ->> 'cpu')::bigint), 0) AS cpu,
       coalesce(sum((resources_duration ->> 'memory')::bigint), 0) AS memory,
       count(*) FILTER (WHERE resources_duration <> '{}') AS resources_n
FROM per_run GROUP BY 1 ORDER BY 1
"""


async def scan(conn: asyncpg.Connection, *, since: datetime, until: datetime,
               namespaces: list[str] | None = None) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per pipeline ('' for none), the run-level figures, exactly."""
    rows = await conn.fetch(SCAN, since, until, namespaces)
    return {r["pipeline"]: dict(r) for r in rows}


async def rollup_rows(conn: asyncpg.Connection) -> dict[str, set[tuple]]:
    """The rollups' non-zero rows, for before/after comparisons (histograms as text: with their bounds)."""
    return {
        "stats_rollup": {tuple(r) for r in await conn.fetch(
            "SELECT pipeline, template, start, span, namespace, n, succeeded, failed, other, duration_n,"
            " duration_sum, queue_n, queue_sum, retries, flaky, cpu, memory, gpu, resources_n, duration_hist::text,"
            " queue_hist::text, step_duration_hist::text, step_queue_hist::text FROM stats_rollup"
            " WHERE n <> 0 OR retries <> 0 OR resources_n <> 0 OR duration_n <> 0 OR queue_n <> 0"
            " OR step_duration_hist <> '{}' OR step_queue_hist <> '{}'")},
        "stats_rollup_causes": {tuple(r) for r in await conn.fetch("SELECT * FROM stats_rollup_causes WHERE n <> 0")},
    }  # fmt: skip


async def rebuilt_rollup_rows(conn: asyncpg.Connection) -> dict[str, set[tuple]]:
    """What the rollups would hold if built afresh from the stored runs (in a transaction rolled back)."""
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute("TRUNCATE stats_rollup, stats_rollup_causes")
        await conn.execute("SELECT stats_rebuild()")
        return await rollup_rows(conn)
    finally:
        await tr.rollback()


async def live_rows(conn: asyncpg.Connection) -> dict[str, set[tuple]]:
    """The rows of the runs in flight (migration 0026), histograms as text: with their bounds."""
    return {
        "stats_live": {tuple(r) for r in await conn.fetch(
            "SELECT run_id, pipeline, template, start, namespace, n, succeeded, failed, other, duration_n,"
            " duration_sum, queue_n, queue_sum, retries, flaky, cpu, memory, gpu, resources_n, duration_hist::text,"
            " queue_hist::text, step_duration_hist::text, step_queue_hist::text FROM stats_live")},
        "stats_live_causes": {tuple(r) for r in await conn.fetch("SELECT * FROM stats_live_causes")},
    }  # fmt: skip


async def rebuilt_live_rows(conn: asyncpg.Connection) -> dict[str, set[tuple]]:
    """What the rows of the runs in flight would be if worked out afresh from every stored run (rolled back)."""
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute("TRUNCATE stats_live, stats_live_causes")
        await conn.execute("SELECT stats_live_rebuild(ARRAY(SELECT id FROM runs))")
        return await live_rows(conn)
    finally:
        await tr.rollback()


STEP_SCAN = """
SELECT coalesce(nullif(s.template, ''), '(none)') AS template, count(*) AS n,
       count(*) FILTER (WHERE s.phase = 'Succeeded') AS succeeded,
       count(*) FILTER (WHERE s.phase IN ('Failed', 'Error')) AS failed,
       count(*) FILTER (WHERE s.phase NOT IN ('Succeeded', 'Failed', 'Error')) AS other,
       count(*) FILTER (WHERE s.phase IN ('Succeeded', 'Failed', 'Error') AND s.finished_at >= s.started_at)
           AS duration_n,
       coalesce(sum(extract(epoch FROM s.finished_at - s.started_at))
                FILTER (WHERE s.phase IN ('Succeeded', 'Failed', 'Error') AND s.finished_at >= s.started_at), 0)
           AS duration_sum
FROM runs r JOIN steps s ON s.run_id = r.id
WHERE coalesce(r.pipeline_name, '') = $1 AND s.type IN ('Pod', 'Container', 'HTTP', 'Plugin')
GROUP BY 1 ORDER BY 1
"""


async def scan_steps(conn: asyncpg.Connection, *, pipeline: str) -> dict[str, dict[str, Any]]:
    """Per template of `pipeline`'s steps that run something, their counts and durations, exactly."""
    return {r["template"]: dict(r) for r in await conn.fetch(STEP_SCAN, pipeline)}
