"""The BI views v_pipeline_stats_daily and v_pipeline_failures_daily show the figures the stats
endpoint gives, per pipeline, namespace and day, to a role that may read the views only."""

from __future__ import annotations

from datetime import datetime, timezone

from runledger.store.pipeline_stats import UnitPrices, read_stats
from tests.support.ingesting import ingest
from tests.support.pipeline_runs import PIPELINE, crafted

DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


async def test_the_daily_view_holds_the_endpoint_s_figures_of_a_namespace(pool, settings, conn):
    runs, pods = crafted()
    await ingest(pool, settings, [wf.event() for wf in runs], pods=[{"type": "MODIFIED", "object": p} for p in pods])
    row = await conn.fetchrow("SELECT * FROM v_pipeline_stats_daily WHERE namespace = 'ml'")
    (group,) = (await read_stats(conn, since=DAY, until=DAY.replace(day=3), namespaces=frozenset({"ml"}),
                                 pipeline=None, prices=UnitPrices())).groups  # fmt: skip
    assert (row["day"], row["pipeline_name"], row["runs"], row["succeeded"], row["failed"], row["unfinished"]) == (
        DAY, PIPELINE, group.count, group.succeeded, group.failed, group.other
    )
    assert row["success_rate"] == group.success_rate
    assert (row["mean_duration_seconds"], row["p50_duration_seconds"], row["p95_duration_seconds"]) == (
        group.duration.mean_seconds, group.duration.p50_seconds, group.duration.p95_seconds
    )
    assert (row["mean_queue_seconds"], row["p95_queue_seconds"]) == (group.queue.mean_seconds, group.queue.p95_seconds)
    assert (row["retries"], row["flaky_steps"], row["cpu_seconds"], row["gpu_seconds"]) == (1, 1, 200, 50)


async def test_the_failures_view_says_why_runs_and_steps_failed(pool, settings, conn):
    runs, pods = crafted()
    await ingest(pool, settings, [wf.event() for wf in runs], pods=[{"type": "MODIFIED", "object": p} for p in pods])
    rows = await conn.fetch("SELECT template, cause, detail, failures FROM v_pipeline_failures_daily"
                            " WHERE namespace = 'ml' ORDER BY template NULLS FIRST, cause, detail")  # fmt: skip
    assert [tuple(r) for r in rows] == [
        (None, "Evicted", None, 1), (None, "OOMKilled", None, 1),
        ("fit", "Evicted", None, 1), ("fit", "ExitCode", "1", 1), ("fit", "OOMKilled", None, 1),
    ]


async def test_a_role_granted_the_views_only_reads_them(pool, settings, conn):
    runs, pods = crafted()
    await ingest(pool, settings, [wf.event() for wf in runs], pods=[{"type": "MODIFIED", "object": p} for p in pods])
    await conn.execute("CREATE ROLE stats_reader_only")
    await conn.execute("GRANT SELECT ON v_pipeline_stats_daily, v_pipeline_failures_daily TO stats_reader_only")
    async with conn.transaction():
        await conn.execute("SET LOCAL ROLE stats_reader_only")
        assert await conn.fetchval("SELECT sum(runs) FROM v_pipeline_stats_daily WHERE p95_duration_seconds > 0") == 5
        assert await conn.fetchval("SELECT sum(failures) FROM v_pipeline_failures_daily") > 0
    await conn.execute("DROP OWNED BY stats_reader_only; DROP ROLE stats_reader_only")
