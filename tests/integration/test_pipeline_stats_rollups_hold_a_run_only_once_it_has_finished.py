"""A run in flight leaves the pipeline analytics rollups alone: its workflow's and its pods' writes
change no rollup row until it finishes, yet the endpoint and the views still count it, exactly,
from its own rows (the rollups hold finished runs only)."""

from __future__ import annotations

from datetime import datetime, timezone

from runledger.store.pipeline_stats import UnitPrices, read_stats
from tests.support.ingesting import ingest
from tests.support.pipeline_runs import PIPELINE, at, crafted
from tests.support.stats_scan import rebuilt_rollup_rows, rollup_rows

DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


async def figures(conn, *, pipeline=None, namespaces=None):
    return {g.name: g for g in (await read_stats(conn, since=DAY, until=DAY.replace(day=3), namespaces=namespaces,
                                                 pipeline=pipeline, prices=UnitPrices())).groups}  # fmt: skip


async def test_a_running_run_s_writes_leave_the_rollups_as_they_were_until_it_finishes(pool, settings, conn):
    runs, pods = crafted()
    finished, slow = [runs[0], runs[1]], runs[3]
    await ingest(pool, settings, [wf.event() for wf in finished])
    kept = await rollup_rows(conn)
    await ingest(pool, settings, [slow.event()], pods=[{"type": "MODIFIED", "object": pods[1]}])
    slow.node("slow-2", "Running", parent="slow", templateName="fit", startedAt=at("13:00:14"), at=at("13:00:14"))
    await ingest(pool, settings, [slow.event()])
    assert await rollup_rows(conn) == kept
    slow.node("slow-2", "Succeeded", parent="slow", templateName="fit", startedAt=at("13:00:14"), at=at("13:05:00"))
    slow.node("slow", "Succeeded", type="DAG", templateName="main", at=at("13:05:00")).phase("Succeeded", at("13:05:00"))
    await ingest(pool, settings, [slow.event()])
    assert await rollup_rows(conn) != kept
    assert await rollup_rows(conn) == await rebuilt_rollup_rows(conn)


async def test_the_runs_in_flight_are_still_counted_exactly_by_the_endpoint_and_the_views(pool, settings, conn):
    runs, pods = crafted()
    await ingest(pool, settings, [wf.event() for wf in runs], pods=[{"type": "MODIFIED", "object": p} for p in pods])
    train = (await figures(conn))[PIPELINE]
    assert (train.count, train.succeeded, train.failed, train.other) == (5, 1, 3, 1)
    in_ml = (await figures(conn, namespaces=frozenset({"ml"})))[PIPELINE]
    assert (in_ml.count, in_ml.other) == (4, 1)
    assert (await figures(conn, namespaces=frozenset({"other"})))[PIPELINE].other == 0
    # The running run's finished step, and its pod's queue, still count in its pipeline's templates.
    prep = (await figures(conn, pipeline=PIPELINE))["prep"]
    assert (prep.count, prep.succeeded, prep.duration.count, prep.queue.count) == (1, 1, 1, 1)
    row = await conn.fetchrow("SELECT sum(runs) AS runs, sum(unfinished) AS unfinished FROM v_pipeline_stats_daily")
    assert (row["runs"], row["unfinished"]) == (5, 1)
