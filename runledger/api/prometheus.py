"""GET /metrics: the service's figures in the Prometheus text format.

Two kinds of figures. Agent figures (events, queue, writes, watch streams, the indexer, leadership)
are read from the live stats objects of whatever this process runs; each part registers a source
in the app's Telemetry when it starts. Run figures come from Postgres. The gauges (runs by phase
and namespace, artifacts by state, the index backlog) are counted anew at most once per
RUN_FIGURES_TTL seconds: at a million runs they cost about a second of database time. The step
duration histogram is a histogram in Prometheus' sense: the Pod steps that finished while this
process ran, read from the transitions after the last one counted, so a scrape costs only what
happened since the previous one (recounting every step took 80 s at 20 million steps). /metrics
needs no token, so with auth on the namespace and template labels are left out unless
RUNLEDGER_METRICS_PER_NAMESPACE opts in: their values are every tenant's names.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from runledger.api import app_keys
from runledger.core.counters import counted_by
from runledger.core.run_state import TERMINAL_PHASES
from runledger.indexer.worker import ArtifactIndexer
from runledger.openlineage.sender import LineageSender
from runledger.store import connection as db
from runledger.store.read_routing import STATES, ReadRouter
from runledger.store.sql_blocks import q
from runledger.store.transition_feed import EventHub

RUN_FIGURES_TTL = 60.0
# Transitions read per statement, and statements per scrape, when catching up on step durations.
TRANSITIONS_PER_READ = 50_000
READS_PER_SCRAPE = 20
STEP_DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger(__name__)

Source = Callable[[], Iterable[Metric]]


@dataclass
class StepDurations:
    """Durations of the Pod steps that finished after transition `after`, by template."""

    after: int | None = None  # None until counting starts
    buckets: dict[str, list[int]] = field(default_factory=dict)  # per template, one count per bound, then +Inf
    seconds: dict[str, float] = field(default_factory=dict)

    async def start(self, conn: asyncpg.Connection) -> None:
        if self.after is None:
            self.after = await conn.fetchval(q("last_transition_id"))

    async def catch_up(self, conn: asyncpg.Connection) -> None:
        if self.after is None:
            await self.start(conn)
            return
        for _ in range(READS_PER_SCRAPE):
            rows = await conn.fetch(q("step_finishes_after"), self.after, TRANSITIONS_PER_READ,
                                    list(STEP_DURATION_BUCKETS), sorted(TERMINAL_PHASES))  # fmt: skip
            for row in rows:
                if row["template"] is None:
                    summary = row
                    continue
                counts = self.buckets.setdefault(row["template"], [0] * (len(STEP_DURATION_BUCKETS) + 1))
                counts[row["bucket"]] += row["steps"]
                self.seconds[row["template"]] = self.seconds.get(row["template"], 0.0) + row["seconds"]
            if summary["last_id"] is not None:
                self.after = summary["last_id"]
            if summary["scanned"] < TRANSITIONS_PER_READ:
                return  # caught up; otherwise the rest waits for the next scrape

    def family(self, *, by_template: bool) -> HistogramMetricFamily:
        durations = HistogramMetricFamily(
            "runledger_step_duration_seconds",
            "Durations of the Pod steps that finished while this process ran"
            + (", by template." if by_template else "."),
            labels=["template"] if by_template else [],
        )
        buckets, seconds = self.buckets, self.seconds
        if not by_template and buckets:
            buckets = {"": [sum(column) for column in zip(*buckets.values(), strict=True)]}
            seconds = {"": sum(seconds.values())}
        for template, counts in sorted(buckets.items()):
            cumulative, running = [], 0
            for bound, n in zip(STEP_DURATION_BUCKETS, counts, strict=False):
                running += n
                cumulative.append((str(bound), running))
            cumulative.append(("+Inf", running + counts[-1]))
            durations.add_metric([template] if by_template else [], cumulative, seconds[template])
        return durations


@dataclass
class Telemetry:
    """What this process reports; parts of the service add and remove their sources as they run."""

    sources: dict[str, Source] = field(default_factory=dict)
    leader: Callable[[], bool | None] = lambda: None  # None: no leader election in this process
    # /metrics is open to anyone who can reach it: with auth on, namespace and template names are
    # other tenants' business unless the operator opts in (RUNLEDGER_METRICS_PER_NAMESPACE).
    per_namespace: bool = True
    step_durations: StepDurations = field(default_factory=StepDurations)
    _cached: tuple[float, list[Metric]] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start_counting(self, pool: asyncpg.Pool) -> None:
        """Steps count from now on; when the database cannot say where now is, from the first scrape."""
        try:
            async with pool.acquire() as conn:
                await self.step_durations.start(conn)
        except Exception as exc:  # noqa: BLE001 - a figure's starting point must never keep the API from starting
            log.warning("step durations will count from the first scrape: %s: %s", type(exc).__name__, exc)

    async def run_figures(self, pool: asyncpg.Pool) -> list[Metric]:
        async with self._lock:
            async with pool.acquire() as conn:
                await self.step_durations.catch_up(conn)
                if self._cached is None or time.monotonic() - self._cached[0] > RUN_FIGURES_TTL:
                    self._cached = (time.monotonic(), await _run_figures(conn, per_namespace=self.per_namespace))
            return [*self._cached[1], self.step_durations.family(by_template=self.per_namespace)]


TELEMETRY = web.AppKey("telemetry", Telemetry)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def metrics(request: web.Request) -> web.Response:
    telemetry = request.app[TELEMETRY]
    families: list[Metric] = []
    for source in list(telemetry.sources.values()):
        families.extend(source())
    leader = telemetry.leader()
    if leader is not None:
        families.append(GaugeMetricFamily("runledger_leader", "1 while this replica holds the lease.", value=int(leader)))
    try:
        families.extend(await telemetry.run_figures(request.app[app_keys.POOL]))
    except Exception as exc:
        if not db.is_transient(exc):
            raise
        # The process's own figures matter most during an outage (retries, backlog): they are served
        # without the database's.
        log.warning("/metrics: the database's figures are left out: %s: %s", type(exc).__name__, exc)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})


async def _run_figures(conn: asyncpg.Connection, *, per_namespace: bool) -> list[Metric]:
    labels = ["namespace", "phase"] if per_namespace else ["phase"]
    runs = GaugeMetricFamily("runledger_runs", f"Runs recorded and not deleted, by {' and '.join(labels)}.", labels=labels)
    counts: dict[tuple[str, ...], int] = {}
    for row in await conn.fetch(q("runs_by_phase")):
        key = (row["namespace"], row["phase"] or "Unknown") if per_namespace else (row["phase"] or "Unknown",)
        counts[key] = counts.get(key, 0) + row["runs"]
    for key, n in counts.items():
        runs.add_metric(list(key), n)
    backlog = await conn.fetchrow(q("artifact_backlog"))
    queue = GaugeMetricFamily("runledger_artifact_index_backlog", "Artifacts waiting to be indexed.", labels=["due"])
    queue.add_metric(["now"], backlog["due"])
    queue.add_metric(["later"], backlog["queued"] - backlog["due"])
    states = GaugeMetricFamily("runledger_artifacts", "Artifacts in the index, by state.", labels=["state"])
    for row in await conn.fetch(q("artifacts_by_state")):
        states.add_metric([row["state"]], row["artifacts"])
    return [runs, queue, states]


def indexer_metrics(indexer: ArtifactIndexer) -> Iterable[Metric]:
    stats = indexer.stats
    yield counted_by("runledger_artifact_checks", "Objects checked in S3, by outcome.", "outcome", stats.outcomes)
    yield counted_by("runledger_artifact_content_errors", "Artifact contents rejected (metrics entries, archives, ...).",
                     "kind", stats.content_errors)  # fmt: skip
    yield CounterMetricFamily("runledger_metrics_stored", "KFP metrics read from metrics files.", value=stats.metrics_stored)
    yield CounterMetricFamily("runledger_artifact_s3_wait_seconds", "Time indexer workers spent awaiting S3.",
                              value=stats.s3_seconds)  # fmt: skip


def openlineage_metrics(sender: LineageSender) -> Iterable[Metric]:
    stats = sender.stats
    yield CounterMetricFamily("runledger_openlineage_events_sent", "OpenLineage events the endpoint acknowledged.",
                              value=stats.sent)  # fmt: skip
    yield counted_by("runledger_openlineage_events_failed", "OpenLineage events not delivered, by kind: retried "
                     "(the endpoint failed or was unreachable), refused (4xx: never resent), unrenderable.",
                     "kind", stats.failed)  # fmt: skip
    yield GaugeMetricFamily("runledger_openlineage_backlog", "OpenLineage events waiting in the outbox.",
                            value=stats.backlog)  # fmt: skip


def event_feed_metrics(hub: EventHub) -> Iterable[Metric]:
    yield GaugeMetricFamily("runledger_event_streams", "Open /api/v1/events streams.", value=hub.subscribers)
    yield GaugeMetricFamily("runledger_event_stream_queued", "Events waiting in streams' queues.",
                            value=hub.queued_events)  # fmt: skip
    yield GaugeMetricFamily("runledger_event_feed_connected", "1 while the feed listens to Postgres.",
                            value=int(hub.connected))  # fmt: skip
    yield CounterMetricFamily("runledger_event_feed_published", "Transitions read and fanned out to streams.",
                              value=hub.stats.published)  # fmt: skip
    yield CounterMetricFamily("runledger_event_streams_dropped", "Streams closed for falling behind.",
                              value=hub.stats.dropped_slow)  # fmt: skip
    yield CounterMetricFamily("runledger_event_feed_connects", "Connections of the feed's listener (reconnects).",
                              value=hub.stats.connects)  # fmt: skip


def read_target_metrics(router: ReadRouter) -> Iterable[Metric]:
    labels = ["target", "role"]
    state = GaugeMetricFamily("runledger_read_target_state", "1 for the state each read target is in (ok: takes "
                              "reads; lagging, down, promoted: left out; unknown: not measured yet).",
                              labels=[*labels, "state"])  # fmt: skip
    lag = GaugeMetricFamily("runledger_read_target_lag_seconds", "How far behind the primary a standby was at its "
                            "last check, seconds (absent while unknown).", labels=labels)  # fmt: skip
    reads = CounterMetricFamily("runledger_read_target_reads", "API reads answered by each target: their share of "
                                "reads.", labels=labels)  # fmt: skip
    retried = CounterMetricFamily("runledger_read_target_retried", "Reads a standby could not answer (it failed or "
                                  "was too far behind) that ran again on another target.", labels=labels)  # fmt: skip
    for target in router.targets:
        names = [target.name, target.role]
        for each in STATES:
            state.add_metric([*names, each], int(target.state == each))
        if target.lag_seconds is not None:
            lag.add_metric(names, target.lag_seconds)
        reads.add_metric(names, target.reads)
        retried.add_metric(names, target.retried)
    yield from (state, lag, reads, retried)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
