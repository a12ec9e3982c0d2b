"""Pipeline analytics of hand-built runs: every figure as worked out by hand (tests/support/pipeline_runs)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from runledger.store.pipeline_stats import PERCENTILE_RELATIVE_ERROR, UnitPrices, read_stats
from tests.support.ingesting import ingest
from tests.support.pipeline_runs import PIPELINE, crafted

SINCE = datetime(2026, 3, 1, tzinfo=timezone.utc)
UNTIL = datetime(2026, 3, 8, tzinfo=timezone.utc)


async def stored(pool, settings) -> None:
    runs, pods = crafted()
    await ingest(pool, settings, [wf.event() for wf in runs], pods=[{"type": "MODIFIED", "object": p} for p in pods])


async def read(conn, *, pipeline=None, namespaces=None, prices=UnitPrices()):
    return await read_stats(conn, since=SINCE, until=UNTIL, namespaces=namespaces, pipeline=pipeline, prices=prices)


def close(value: float, exact: float) -> bool:
    return abs(value - exact) <= exact * PERCENTILE_RELATIVE_ERROR


async def test_a_pipeline_counts_its_runs_their_outcomes_and_why_they_failed(pool, settings, conn):
    await stored(pool, settings)
    (train,) = (await read(conn)).groups
    assert (train.name, train.count, train.succeeded, train.failed, train.other) == (PIPELINE, 5, 1, 3, 1)
    assert train.success_rate == 0.25
    assert [(f.cause, f.detail, f.count) for f in train.failures] == [
        ("Evicted", None, 1), ("ExitCode", "3", 1), ("OOMKilled", None, 1)
    ]


async def test_run_durations_and_queueing_have_exact_means_and_bounded_percentiles(pool, settings, conn):
    await stored(pool, settings)
    (train,) = (await read(conn)).groups
    assert (train.duration.count, train.duration.mean_seconds) == (4, 41.25)
    assert close(train.duration.p50_seconds, 20) and close(train.duration.p95_seconds, 100)
    assert (train.queue.count, train.queue.mean_seconds) == (5, 8)
    assert close(train.queue.p95_seconds, 30)


async def test_retries_flaky_steps_and_resources_are_summed(pool, settings, conn):
    await stored(pool, settings)
    (train,) = (await read(conn)).groups
    assert (train.retries, train.flaky) == (1, 1)
    assert train.resources.model_dump() == {"reported": 1, "cpu_seconds": 200, "memory_gib_seconds": 100.0,
                                            "gpu_seconds": 50}  # fmt: skip
    assert train.cost is None and "RUNLEDGER_COST_CPU_HOUR" in train.missing["cost"]


async def test_a_cost_is_estimated_from_the_configured_unit_prices(pool, settings, conn):
    await stored(pool, settings)
    (train,) = (await read(conn, prices=UnitPrices(cpu_hour=3.6, gpu_hour=36.0))).groups
    assert train.cost.model_dump() == pytest.approx({"cpu": 0.2, "memory": None, "gpu": 0.5, "total": 0.7})


async def test_each_template_counts_its_steps_causes_and_retries(pool, settings, conn):
    await stored(pool, settings)
    answer = await read(conn, pipeline=PIPELINE)
    run, fit, prep = answer.groups
    assert (run.name, run.count, run.step_duration.count, run.step_queue.count) == (None, 5, 6, 1)
    assert (fit.name, fit.count, fit.succeeded, fit.failed, fit.retries, fit.flaky) == ("fit", 5, 1, 4, 1, 1)
    assert [(f.cause, f.detail, f.count) for f in fit.failures] == [
        ("Evicted", None, 1), ("ExitCode", "1", 1), ("ExitCode", "3", 1), ("OOMKilled", None, 1)
    ]
    assert (fit.duration.count, fit.duration.mean_seconds) == (5, 33)
    assert fit.resources.cpu_seconds == 70
    assert fit.queue is None and "pod" in fit.missing["queue"]
    assert (prep.name, prep.count, prep.success_rate, prep.duration.mean_seconds, prep.queue.mean_seconds) == (
        "prep", 1, 1.0, 4, 2
    )
    assert prep.resources is None and prep.missing["resources"]


async def test_only_the_namespaces_asked_for_are_counted(pool, settings, conn):
    await stored(pool, settings)
    (train,) = (await read(conn, namespaces=frozenset({"other"}))).groups
    assert (train.count, train.failed, [f.detail for f in train.failures]) == (1, 1, ["3"])
    assert (await read(conn, namespaces=frozenset({"nobody"}))).groups == []


async def test_a_figure_without_data_is_null_with_a_reason_never_zero(pool, settings, conn):
    runs, _ = crafted()
    slow = runs[3]
    await ingest(pool, settings, [slow.event()])
    (train,) = (await read(conn)).groups
    assert (train.count, train.success_rate, train.duration) == (1, None, None)
    assert "finished" in train.missing["success_rate"] and "finished" in train.missing["duration"]
    assert train.resources is None and "resourcesDuration" in train.missing["resources"]
