"""Read side of pipeline analytics: what fails, what waits, what costs, from the rollups.

The rollups (migration 0020, kept by ``store/rollups``) hold per pipeline, template, namespace and
UTC day of run creation: counts, sums and log-scale histograms, and the same for every namespace at
once, of the finished runs; the few runs in flight have the same rows, one per run (migration 0026),
which a read adds up with the rollups' in the same statements, so every figure counts them as it did. A window is whole days, so a month costs a row per pipeline and day, not a
scan of its runs; a day is the grain because every finer one multiplies what each write and each read touches.
Counts and sums are exact; a percentile is its histogram bucket's geometric middle, within
``PERCENTILE_RELATIVE_ERROR`` of the true (nearest-rank) value, or ``PERCENTILE_ABSOLUTE_ERROR_S`` below one
second. A row's histograms are arrays of counts per bucket (migration 0024), added up here: a few hundred
arrays of a few dozen counts each, which Python adds faster than Postgres would.

A figure without data is None, with the reason in the answer's ``missing``; never a zero.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from typing import Any

import asyncpg
from pydantic import Field

from runledger.store.read_models import Out, Timestamp
from runledger.store.sql_blocks import block, q

BUCKETS_PER_DOUBLING = 8
PERCENTILE_RELATIVE_ERROR = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1  # 4.4 %
PERCENTILE_ABSOLUTE_ERROR_S = 0.5
MEMORY_BASE_GIB = 100 / 1024  # Argo counts memory in seconds of 100Mi
NO_PRICES = "no unit price configured (RUNLEDGER_COST_CPU_HOUR, RUNLEDGER_COST_MEMORY_GIB_HOUR, RUNLEDGER_COST_GPU_HOUR)"
EVERY_NAMESPACE = "*"  # the rollups' rows of all namespaces at once
DAY = timedelta(days=1)
METRICS = ("duration", "queue", "step_duration", "step_queue")  # a run row's histograms; a template's: the first two
# A histogram as its lowest bucket and the counts from there on: (48, [3, 0, 1]) is 3 in bucket 48, one in 50.
Histogram = tuple[int, list[int]]


class UnitPrices(Out):
    cpu_hour: float | None = Field(default=None, description="Price of one core for an hour.")
    memory_gib_hour: float | None = Field(default=None, description="Price of one GiB of memory for an hour.")
    gpu_hour: float | None = Field(default=None, description="Price of one GPU for an hour.")

    def any(self) -> bool:
        return any(p is not None for p in (self.cpu_hour, self.memory_gib_hour, self.gpu_hour))


class DurationStats(Out):
    count: int = Field(description="How many durations the figures are of.")
    mean_seconds: float | None = Field(
        description="Exact; None where only the histogram is kept (a pipeline's figures of all its steps)."
    )
    p50_seconds: float = Field(description="Within percentile_relative_error (0.5 s below one second).")
    p95_seconds: float = Field(description="Within percentile_relative_error (0.5 s below one second).")


class FailureCause(Out):
    cause: str = Field(description="OOMKilled, Evicted, DeadlineExceeded, ExitCode, Error or Unknown.")
    detail: str | None = Field(description="ExitCode: the code; Error: the message with its particulars taken out.")
    count: int


class ResourceUse(Out):
    reported: int = Field(description="How many of the runs (steps) report resourcesDuration.")
    cpu_seconds: int = Field(description="Seconds of one core, as Argo accounts them.")
    memory_gib_seconds: float = Field(description="Seconds of one GiB (Argo's memory seconds are of 100Mi).")
    gpu_seconds: int = Field(description="Seconds of one GPU (every resource named *gpu*).")


class CostEstimate(Out):
    cpu: float | None = Field(description="None when the CPU price is not configured.")
    memory: float | None
    gpu: float | None
    total: float = Field(description="The sum of the priced resources.")


class GroupStats(Out):
    name: str | None = Field(description="The pipeline (None: runs without a pipeline name) or the template.")
    count: int = Field(description="Runs (for a template: its steps, each attempt one) created in the window.")
    succeeded: int
    failed: int = Field(description="Failed or Error.")
    other: int = Field(description="Neither yet (Pending, Running) or never (a skipped or omitted step).")
    success_rate: float | None = Field(description="succeeded / (succeeded + failed).")
    failures: list[FailureCause] = Field(description="By cause, most frequent first; counts add up to `failed`.")
    duration: DurationStats | None = Field(description="Of the finished runs (steps): finished - started.")
    queue: DurationStats | None = Field(
        description="Time Pending before running: a run's started - created; a step's pod container start - node start."
    )
    step_duration: DurationStats | None = Field(
        default=None, description="A pipeline's runs in its templates answer (the group named null): of all its steps."
    )
    step_queue: DurationStats | None = Field(default=None, description="As step_duration.")
    retries: int = Field(description="Attempts beyond the first of retried steps.")
    flaky: int = Field(description="Retried steps that succeeded only on a later attempt.")
    resources: ResourceUse | None
    cost: CostEstimate | None = Field(description="From the configured unit prices (`prices`).")
    missing: dict[str, str] = Field(description="Why each figure that is None has no value.")


class PipelineStats(Out):
    since: Timestamp = Field(description="Start of the window: midnight UTC of the day `since` falls on.")
    until: Timestamp = Field(description="End of the window (exclusive): `until` raised to midnight UTC.")
    namespaces: list[str] | None = Field(description="The namespaces counted; None: all.")
    pipeline: str | None = Field(description="Whose templates; None: every pipeline.")
    percentile_relative_error: float = Field(description="Bound of p50/p95 against the exact nearest-rank value.")
    prices: UnitPrices | None = Field(description="The unit prices costs are worked out with; None: not configured.")
    groups: list[GroupStats]


def window(*, since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) widened to whole UTC days; by default the last 7 (today the last of them)."""
    end = _ceil(until or now, DAY)
    start = _floor(since or end - 7 * DAY, DAY)
    return start, max(start, end)


async def read_stats(
    conn: asyncpg.Connection, *, since: datetime, until: datetime, namespaces: frozenset[str] | None,
    pipeline: str | None, prices: UnitPrices,
) -> PipelineStats:  # fmt: skip
    """Every pipeline's figures (`pipeline` None), or the run's and each template's of `pipeline`.

    One statement (stats_read), so one snapshot and one round trip: a run finishing between the read of
    the rollups and that of the runs in flight would otherwise be counted twice, or not at all.
    """
    group, which = ("pipeline", "stats_every_pipeline") if pipeline is None else ("template", "stats_one_pipeline")
    fragments = {"group": group, "which": block(which), "window": block("stats_window")}
    read = sorted(namespaces) if namespaces is not None else None
    args = (since, until, read if read is not None else [EVERY_NAMESPACE], pipeline)
    parts = {name: q(f"stats_{name}", **fragments) for name in ("totals", "causes", "histograms")}
    totals: dict[str, Any] = {}
    causes: dict[str, Counter[str]] = defaultdict(Counter)
    buckets: dict[tuple[str, str], list[Histogram]] = defaultdict(list)
    metrics = METRICS if pipeline is not None else METRICS[:2]  # a list leaves steps to each pipeline's templates
    columns = [(metric, f"{metric}_lo", f"{metric}_hist") for metric in metrics]
    for r in await conn.fetch(q("stats_read", **parts), *args):
        if r["kind"] == "t":
            totals[r["key"]] = r
        elif r["kind"] == "c":
            causes[r["key"]][r["cause"]] += r["n"]
        else:
            for metric, lo, hist in columns:
                if r[hist]:
                    buckets[(r["key"], metric)].append((r[lo], r[hist]))
    groups = [_group(t, causes[key], buckets, pipelines=pipeline is None, prices=prices)
              for key, t in totals.items() if t["n"] > 0 or t["retries"] > 0]  # fmt: skip
    if pipeline is not None:  # the run's own row first, then the templates by name
        groups.sort(key=lambda g: (g.name is not None, g.name or ""))
    return PipelineStats(
        since=since, until=until, namespaces=read,
        pipeline=pipeline, percentile_relative_error=round(PERCENTILE_RELATIVE_ERROR, 4),
        prices=prices if prices.any() else None, groups=groups,
    )  # fmt: skip


def _group(t: Any, causes: Counter[str], buckets: dict, *, pipelines: bool, prices: UnitPrices) -> GroupStats:
    key = t["key"]
    what = "run" if pipelines or key == "" else "step"
    missing: dict[str, str] = {}
    finished = t["succeeded"] + t["failed"]
    if not finished:
        missing["success_rate"] = f"no {what} finished (succeeded or failed) yet"
    unfinished = "no {} has finished with a start time"
    unqueued = {"run": "no run has both a creation and a start time",
                "step": "no step has a pod observation with a container start (the agent records pods it watches)"}
    figures = {
        "duration": _durations(buckets.get((key, "duration")), t["duration_n"], t["duration_sum"]),
        "queue": _durations(buckets.get((key, "queue")), t["queue_n"], t["queue_sum"]),
    }  # fmt: skip
    absent = {"duration": unfinished.format(what), "queue": unqueued[what]}
    if what == "run" and not pipelines:
        figures["step_duration"] = _durations(buckets.get((key, "step_duration")), None, None)
        figures["step_queue"] = _durations(buckets.get((key, "step_queue")), None, None)
        absent |= {"step_duration": unfinished.format("step"), "step_queue": unqueued["step"]}
    missing |= {name: absent[name] for name, value in figures.items() if value is None}
    resources = None
    if t["resources_n"]:
        resources = ResourceUse(reported=t["resources_n"], cpu_seconds=t["cpu"],
                              memory_gib_seconds=t["memory"] * MEMORY_BASE_GIB, gpu_seconds=t["gpu"])  # fmt: skip
    else:
        missing["resources"] = f"no {what} reports resourcesDuration"
    figures["cost"] = _cost(resources, prices) if prices.any() else None
    if figures["cost"] is None:
        missing["cost"] = missing.get("resources") or NO_PRICES
    return GroupStats(
        name=(key or None), count=t["n"], succeeded=t["succeeded"], failed=t["failed"], other=t["other"],
        success_rate=t["succeeded"] / finished if finished else None, failures=_failures(causes),
        retries=t["retries"], flaky=t["flaky"], resources=resources, missing=missing, **figures,
    )  # fmt: skip


def _durations(parts: list[Histogram] | None, count: int | None, total: Any) -> DurationStats | None:
    """The figures of histograms added up, with the exact mean when their exact count and sum are kept."""
    histogram = merged(parts or [])
    if not any(histogram[1]) or count == 0:
        return None
    return DurationStats(
        count=count if count is not None else sum(histogram[1]),
        mean_seconds=float(total) / count if count else None,
        p50_seconds=percentile(histogram, 0.5), p95_seconds=percentile(histogram, 0.95),
    )  # fmt: skip


def merged(parts: list[Histogram]) -> Histogram:
    """The sum of histograms, bucket by bucket."""
    parts = [(lo, counts) for lo, counts in parts if counts]
    if not parts:
        return 0, []
    lo = min(start for start, _ in parts)
    total = [0] * (max(start + len(counts) for start, counts in parts) - lo)
    for start, counts in parts:
        at = slice(start - lo, start - lo + len(counts))
        total[at] = map(operator.add, total[at], counts)  # element-wise in C: a read adds hundreds of these
    return lo, total


def percentile(histogram: Histogram, p: float) -> float:
    """The nearest-rank p-th percentile of a histogram (no negative count), as its bucket's geometric middle."""
    lo, counts = histogram
    seen = list(accumulate(counts))
    if not seen or seen[-1] <= 0:
        raise ValueError("empty histogram")
    return bucket_value(lo + bisect_left(seen, max(1, math.ceil(p * seen[-1]))))


def bucket_value(bucket: int) -> float:
    return PERCENTILE_ABSOLUTE_ERROR_S if bucket == 0 else 2 ** ((bucket - 0.5) / BUCKETS_PER_DOUBLING)


def _failures(counts: Counter[str]) -> list[FailureCause]:
    found = []
    for full, n in counts.items():
        if n <= 0:
            continue
        cause, _, detail = full.partition(": ")
        found.append(FailureCause(cause=cause, detail=detail or None, count=n))
    return sorted(found, key=lambda f: (-f.count, f.cause, f.detail or ""))


def _cost(resources: ResourceUse | None, prices: UnitPrices) -> CostEstimate | None:
    if resources is None:
        return None

    def priced(seconds: float, price: float | None) -> float | None:
        return None if price is None else round(seconds / 3600 * price, 6)  # to a millionth of the unit

    cpu = priced(resources.cpu_seconds, prices.cpu_hour)
    memory = priced(resources.memory_gib_seconds, prices.memory_gib_hour)
    gpu = priced(resources.gpu_seconds, prices.gpu_hour)
    return CostEstimate(cpu=cpu, memory=memory, gpu=gpu, total=round(sum(c for c in (cpu, memory, gpu) if c is not None), 6))


def _floor(at: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return epoch + (at.astimezone(timezone.utc) - epoch) // step * step


def _ceil(at: datetime, step: timedelta) -> datetime:
    floored = _floor(at, step)
    return floored if floored == at else floored + step
