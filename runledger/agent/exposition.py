"""The agent's figures as Prometheus metric families, read from its live stats at scrape time."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from runledger.agent.ingest import Ingestor
from runledger.agent.watching import RESTART_REASONS, WatchStream
from runledger.core.counters import counted_by


def ingest_metrics(ingestor: Ingestor) -> Iterable[Metric]:
    yield from _event_metrics(ingestor)
    yield from _write_metrics(ingestor)


def _event_metrics(ingestor: Ingestor) -> Iterable[Metric]:
    """What came in: events received, states taken, events another shard records, states coalesced."""
    stats = ingestor.stats
    received = CounterMetricFamily(
        "runledger_events_received", "Watch events received, by resource and type.", labels=["resource", "type"]
    )
    for key, n in sorted(stats.events.items()):
        resource, _, kind = key.rpartition(":")
        received.add_metric([resource or "workflow", kind], n)
    yield received
    runs = CounterMetricFamily(
        "runledger_run_states", "States taken from the queue and written, by resource and outcome.",
        labels=["resource", "outcome"],
    )  # fmt: skip
    runs.add_metric(["workflow", "applied"], stats.runs_written)
    runs.add_metric(["workflow", "unchanged"], stats.runs_unchanged)
    runs.add_metric(["workflow", "stale"], stats.runs_stale)
    # The pod upsert does not tell an unchanged observation from an older one: both are skipped.
    runs.add_metric(["pod", "applied"], stats.pods_written)
    runs.add_metric(["pod", "skipped"], stats.pods_skipped)
    yield runs
    elsewhere = CounterMetricFamily(
        "runledger_events_other_shard",
        "Watch events of namespaces another shard records (RUNLEDGER_SHARD), dropped here, by resource.",
        labels=["resource"],
    )
    for resource in ("workflow", "pod"):
        elsewhere.add_metric([resource], stats.other_shards[resource])
    yield elsewhere
    coalesced = CounterMetricFamily(
        "runledger_events_coalesced",
        "States replaced in the queue by a newer state of the same run (workflow) or step (pod), by resource.",
        labels=["resource"],
    )
    for resource in ("workflow", "pod"):
        coalesced.add_metric([resource], ingestor.queue.coalesced_by[resource])
    yield coalesced


def _write_metrics(ingestor: Ingestor) -> Iterable[Metric]:
    """What was written, dropped, retried and met on the way, and whether Postgres takes writes."""
    stats = ingestor.stats
    yield GaugeMetricFamily("runledger_ingest_queue_depth", "Runs waiting to be written.", value=len(ingestor.queue))
    yield CounterMetricFamily("runledger_rows_written", "Rows written, transitions included.", value=stats.rows_written)
    yield CounterMetricFamily("runledger_transitions", "Phase transitions recorded.", value=stats.transitions)
    yield CounterMetricFamily(
        "runledger_phase_changes_dropped",
        "Phases of states replaced in the queue dropped past RUNLEDGER_INGEST_MAX_PENDING_PHASE_CHANGES (oldest"
        " first): missing from their run's timeline.",
        value=stats.phase_changes_dropped,
    )
    yield CounterMetricFamily("runledger_db_retries", "Write batches retried after a database outage.", value=stats.db_retries)
    yield counted_by("runledger_errors", "Errors, by kind (bad objects, failed writes, ...).", "kind", stats.errors)
    yield counted_by("runledger_translation_warnings", "Oddities met while translating objects, by kind.", "kind",
                     stats.warnings)  # fmt: skip
    latency = HistogramMetricFamily("runledger_db_write_seconds", "Time to commit one batch of run states.")
    latency.add_metric([], stats.write_seconds.cumulative(), stats.write_seconds.sum)
    yield latency
    yield GaugeMetricFamily("runledger_database_up", "1 while writes reach Postgres.", value=int(ingestor.database_ok))


def watch_metrics(streams: list[WatchStream]) -> Iterable[Metric]:
    counts = CounterMetricFamily(
        "runledger_watch",
        "Watch stream happenings: events, bookmarks, lists, gone (410s), throttled (429/5xx), errors (other"
        " failures), backoffs (waits before a retry), bad_lines, bad_objects.",
        labels=["stream", "what"],
    )
    restarts = CounterMetricFamily(
        "runledger_watch_restarts",
        "New list or watch requests after the last one ended, by reason: timeout (the server ended the watch,"
        " as at its timeoutSeconds), gone (410: relist), throttled (429/5xx), dropped (connection failed,"
        " broke or fell silent), error (an ERROR event or an unusable answer).",
        labels=["stream", "reason"],
    )
    connected = GaugeMetricFamily("runledger_watch_connected", "1 while a stream's watch is open.", labels=["stream"])
    synced = GaugeMetricFamily("runledger_watch_synced", "1 once a stream's initial list is ingested.", labels=["stream"])
    for stream in streams:
        state = stream.state
        for what, n in sorted(state.counts.items()):
            counts.add_metric([state.name, what], n)
        # Zeros too: rate() and increase() miss a series' first increase if it appears only then.
        for reason in RESTART_REASONS:
            restarts.add_metric([state.name, reason], state.restarts[reason])
        connected.add_metric([state.name], int(state.connected))
        synced.add_metric([state.name], int(state.synced.is_set()))
    yield from (counts, restarts, connected, synced)
