"""Percentiles read from the rollups' histograms, added up over days and namespaces whose durations lie far
apart, are within the stated precision (percentile_relative_error) of the exact nearest-rank percentile of
the runs (and steps) in the window: a bucket off by one is twice the bound away."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from runledger.store.pipeline_stats import PERCENTILE_RELATIVE_ERROR, UnitPrices, read_stats
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest

FIRST_DAY = datetime(2026, 4, 6, tzinfo=timezone.utc)
# Each day's runs last a different span of seconds, so each day's histogram covers other buckets.
SPANS = [(1, 30), (100, 900), (2_000, 20_000), (3, 5)]
NAMESPACES = ("ml", "research")
RUNS_PER_DAY_AND_NAMESPACE = 13


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def durations() -> dict[tuple[int, str], list[int]]:
    """Per day and namespace, run durations spread geometrically over the day's span, whole seconds."""
    spread = {}
    for day, (low, high) in enumerate(SPANS):
        for k, namespace in enumerate(NAMESPACES):
            count = RUNS_PER_DAY_AND_NAMESPACE + k
            spread[(day, namespace)] = [round(low * (high / low) ** (i / (count - 1))) for i in range(count)]
    return spread


def run(name: str, namespace: str, created: datetime, seconds: int) -> WorkflowBuilder:
    wf = WorkflowBuilder(name=name, namespace=namespace)
    wf.obj["metadata"]["creationTimestamp"] = _iso(created)
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "spread"
    wf.phase("Running", _iso(created))
    step_end = _iso(created + timedelta(seconds=seconds // 2 + 1))
    wf.node(f"{name}-fit", "Succeeded", templateName="fit", startedAt=_iso(created), at=step_end)
    return wf.phase("Succeeded", _iso(created + timedelta(seconds=seconds)))


def nearest_rank(values: list[int], p: float) -> int:
    return sorted(values)[max(1, math.ceil(p * len(values))) - 1]


def within_precision(estimate: float, exact: int) -> bool:
    return abs(estimate - exact) <= exact * PERCENTILE_RELATIVE_ERROR + 1e-9


async def store(pool, settings) -> dict[tuple[int, str], list[int]]:
    spread = durations()
    runs = [run(f"r{day}-{namespace}-{i}", namespace, FIRST_DAY + timedelta(days=day, hours=1, minutes=i), seconds)
            for (day, namespace), values in spread.items() for i, seconds in enumerate(values)]  # fmt: skip
    await ingest(pool, settings, [wf.event() for wf in runs])
    return spread


async def test_run_and_step_percentiles_over_several_days_and_namespaces_are_within_the_stated_precision(
    pool, settings, conn
):
    spread = await store(pool, settings)
    for first, last in ((0, 3), (1, 2), (2, 2)):
        since, until = FIRST_DAY + timedelta(days=first), FIRST_DAY + timedelta(days=last + 1)
        runs = [s for (day, _), values in spread.items() if first <= day <= last for s in values]
        steps = [s // 2 + 1 for s in runs]
        (every,) = (await read_stats(conn, since=since, until=until, namespaces=None, pipeline=None,
                                     prices=UnitPrices())).groups  # fmt: skip
        answer = await read_stats(conn, since=since, until=until, namespaces=None, pipeline="spread",
                                  prices=UnitPrices())  # fmt: skip
        itself, fit = answer.groups
        assert (every.duration.count, itself.duration.count, fit.name, fit.duration.count) == (
            len(runs), len(runs), "fit", len(steps)
        )
        for p, key in ((0.5, "p50_seconds"), (0.95, "p95_seconds")):
            for figure, values in ((every.duration, runs), (itself.duration, runs), (itself.step_duration, steps),
                                   (fit.duration, steps)):  # fmt: skip
                exact = nearest_rank(values, p)
                assert within_precision(getattr(figure, key), exact), (first, last, key, getattr(figure, key), exact)


async def test_one_namespace_s_percentiles_are_of_its_runs_alone(pool, settings, conn):
    spread = await store(pool, settings)
    since, until = FIRST_DAY, FIRST_DAY + timedelta(days=len(SPANS))
    runs = [s for (_, namespace), values in spread.items() if namespace == "research" for s in values]
    (every,) = (await read_stats(conn, since=since, until=until, namespaces=frozenset({"research"}), pipeline=None,
                                 prices=UnitPrices())).groups  # fmt: skip
    assert every.duration.count == len(runs)
    for p, key in ((0.5, "p50_seconds"), (0.95, "p95_seconds")):
        assert within_precision(getattr(every.duration, key), nearest_rank(runs, p))
