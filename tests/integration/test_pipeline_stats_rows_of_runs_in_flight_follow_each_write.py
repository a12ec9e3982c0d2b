"""The runs in flight have rows of their own (stats_live, migration 0026), kept by the writers in the
transaction that changes a run: after every write they hold exactly what the stored runs say, a run
finishing leaves them for the rollups, one going back to Running returns, and a run deleted from the
cluster while in flight is still counted from them."""

from __future__ import annotations

from datetime import datetime, timezone

from runledger.store.pipeline_stats import UnitPrices, read_stats
from tests.support.ingesting import ingest
from tests.support.pipeline_runs import PIPELINE, at, crafted
from tests.support.stats_scan import (
    live_rows,
    rebuilt_live_rows,
    rebuilt_rollup_rows,
    rollup_rows,
)

DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


async def counted(conn, *, pipeline=None):
    return {g.name: g for g in (await read_stats(conn, since=DAY, until=DAY.replace(day=3), namespaces=None,
                                                 pipeline=pipeline, prices=UnitPrices())).groups}  # fmt: skip


async def run_ids_in_live_rows(conn) -> set[str]:
    return {r[0] for r in (await live_rows(conn))["stats_live"]}


async def test_a_run_in_flight_has_rows_that_follow_its_writes_and_leave_when_it_finishes(pool, settings, conn):
    runs, pods = crafted()
    slow = runs[3]
    await ingest(pool, settings, [wf.event() for wf in runs])
    assert await run_ids_in_live_rows(conn) == {slow.obj["metadata"]["uid"]}
    assert await live_rows(conn) == await rebuilt_live_rows(conn)
    # Its pod (the step's queue) and a step starting both change its rows, and only its rows.
    await ingest(pool, settings, [], pods=[{"type": "MODIFIED", "object": pods[1]}])
    slow.node("slow-2", "Running", parent="slow", templateName="fit", startedAt=at("13:00:14"), at=at("13:00:14"))
    await ingest(pool, settings, [slow.event()])
    assert await live_rows(conn) == await rebuilt_live_rows(conn)
    assert (await counted(conn, pipeline=PIPELINE))["prep"].queue.count == 1
    assert (await counted(conn))[PIPELINE].other == 1

    slow.node("slow-2", "Succeeded", parent="slow", templateName="fit", startedAt=at("13:00:14"), at=at("13:05:00"))
    slow.node("slow", "Succeeded", type="DAG", templateName="main", at=at("13:05:00")).phase("Succeeded", at("13:05:00"))
    await ingest(pool, settings, [slow.event()])
    assert await live_rows(conn) == {"stats_live": set(), "stats_live_causes": set()}
    assert await rollup_rows(conn) == await rebuilt_rollup_rows(conn)
    train = (await counted(conn))[PIPELINE]
    assert (train.count, train.succeeded, train.other) == (5, 2, 0)


async def test_a_finished_run_going_back_to_running_returns_to_the_rows_of_runs_in_flight(pool, settings, conn):
    runs, _ = crafted()
    oom = runs[1]
    await ingest(pool, settings, [wf.event() for wf in runs])
    oom.phase("Running", at("11:00:00"))
    oom.obj["status"].pop("finishedAt")
    await ingest(pool, settings, [oom.event()])
    assert await run_ids_in_live_rows(conn) == {runs[3].obj["metadata"]["uid"], oom.obj["metadata"]["uid"]}
    assert await live_rows(conn) == await rebuilt_live_rows(conn)
    assert await rollup_rows(conn) == await rebuilt_rollup_rows(conn)
    train = (await counted(conn))[PIPELINE]
    assert (train.count, train.failed, train.other) == (5, 2, 2)


async def test_a_run_deleted_while_in_flight_is_still_counted_from_its_rows(pool, settings, conn):
    runs, _ = crafted()
    slow = runs[3]
    await ingest(pool, settings, [wf.event() for wf in runs])
    await ingest(pool, settings, [slow.event("DELETED")])
    assert await conn.fetchval("SELECT deleted_at IS NOT NULL FROM runs WHERE name = 'slow'")
    assert await live_rows(conn) == await rebuilt_live_rows(conn)
    assert await run_ids_in_live_rows(conn) == {slow.obj["metadata"]["uid"]}
    assert (await counted(conn))[PIPELINE].other == 1
