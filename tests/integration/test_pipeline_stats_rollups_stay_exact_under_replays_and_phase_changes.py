"""The rollups the writers keep hold what the stored runs say: a replay of the same files changes
nothing, a run changing phase moves between columns rather than being counted twice, and every
figure agrees with a scan of the runs (percentiles within the documented bound)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from runledger.demo.artifact_store import bundled_recording
from runledger.store.pipeline_stats import PERCENTILE_RELATIVE_ERROR, UnitPrices, read_stats
from tests.support.ingesting import ingest, replay_command
from tests.support.pipeline_runs import crafted
from tests.support.real_objects import fixture_files
from tests.support.stats_scan import rebuilt_rollup_rows, rollup_rows, scan

EVER = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


async def replay(settings, dsn) -> None:
    argo = [p for p in fixture_files() if p.suffix == ".yaml"]
    code, counts = await replay_command(settings.updated(database={"url": dsn}), [bundled_recording(), *argo])
    assert code == 0, counts


async def test_replaying_the_same_files_again_leaves_the_rollups_as_they_were(dsn, settings, conn):
    await replay(settings, dsn)
    first = await rollup_rows(conn)
    assert first["stats_rollup"] and first["stats_rollup_causes"]
    assert any(row[-4] != "{}" for row in first["stats_rollup"]), "the histograms are compared too"
    await replay(settings, dsn)
    assert await rollup_rows(conn) == first


async def test_the_rollups_kept_run_by_run_equal_those_built_from_the_stored_runs(dsn, settings, conn):
    await replay(settings, dsn)
    assert await rollup_rows(conn) == await rebuilt_rollup_rows(conn)


async def test_a_run_that_changes_phase_moves_between_columns_and_is_counted_once(pool, settings, conn):
    runs, _ = crafted()
    slow = runs[3]
    await ingest(pool, settings, [slow.event()])
    slow.node("slow", "Succeeded", at="2026-03-02T13:05:00Z").phase("Succeeded", "2026-03-02T13:05:00Z")
    await ingest(pool, settings, [slow.event()])
    (train,) = (await read_stats(conn, since=EVER[0], until=EVER[1], namespaces=None, pipeline=None,
                                 prices=UnitPrices())).groups  # fmt: skip
    assert (train.count, train.succeeded, train.other, train.duration.count) == (1, 1, 0, 1)
    assert await rollup_rows(conn) == await rebuilt_rollup_rows(conn)


def within(estimate: float | None, exact: float | None) -> bool:
    if exact is None:
        return estimate is None
    return abs(estimate - float(exact)) <= max(float(exact) * PERCENTILE_RELATIVE_ERROR, 0.5) + 1e-9


async def test_every_pipeline_s_figures_agree_with_a_scan_of_its_runs(dsn, settings, conn):
    await replay(settings, dsn)
    answer = await read_stats(conn, since=EVER[0], until=EVER[1], namespaces=None, pipeline=None, prices=UnitPrices())
    scanned = await scan(conn, since=EVER[0], until=EVER[1])
    assert {g.name or "" for g in answer.groups} == scanned.keys()
    for group in answer.groups:
        exact = scanned[group.name or ""]
        assert (group.count, group.succeeded, group.failed, group.retries, group.flaky) == (
            exact["n"], exact["succeeded"], exact["failed"], exact["retries"], exact["flaky"]
        ), group.name
        for figure, metric in ((group.duration, "duration"), (group.queue, "queue")):
            if figure is None:
                assert exact[f"{metric}_n"] == 0
                continue
            assert figure.count == exact[f"{metric}_n"]
            assert math.isclose(figure.mean_seconds, float(exact[f"{metric}_sum"]) / figure.count)
            assert within(figure.p50_seconds, exact[f"{metric}_p50"]) and within(figure.p95_seconds, exact[f"{metric}_p95"])
        if group.resources is not None:
            assert (group.resources.reported, group.resources.cpu_seconds) == (exact["resources_n"], exact["cpu"])
        else:
            assert exact["resources_n"] == 0
