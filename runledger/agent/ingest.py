"""The ingest path: watch events -> translation -> per-run coalescing -> group-committed writes.

``Ingestor.submit()`` is what every source (a replayed file, a live watch) calls. It translates the
object at once (so a bad object is reported against the event that carried it, and only the small
translated state waits in memory) and queues it under its run id. Writer tasks take batches of
runs from the queue and persist each batch in one transaction.

When the database fails transiently the batch goes back to the queue (unless a newer state of a
run arrived meanwhile) and the writer backs off; because the queue keeps one state per run and
bounds the number of runs, an outage costs bounded memory and no final state is lost. A batch that
fails for a data reason is split run by run, so one bad run is reported and dropped alone.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from runledger.agent.queueing import CoalescingQueue
from runledger.agent.translate import TranslationError, object_ref, translate_workflow
from runledger.metadata.db import is_transient
from runledger.metadata.writer import RunWriter
from runledger.models import RunState, WatchEvent
from runledger.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    events: Counter = field(default_factory=Counter)  # by event type
    errors: Counter = field(default_factory=Counter)  # by kind
    warnings: Counter = field(default_factory=Counter)  # translation oddities, by kind
    runs_written: int = 0
    runs_unchanged: int = 0
    runs_stale: int = 0
    rows_written: int = 0
    transitions: int = 0
    offloaded_runs: int = 0
    batches: int = 0
    db_retries: int = 0
    # Filled only when asked (replays): a long-running agent must not grow with every run it saw.
    steps_by_run: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "events": sum(self.events.values()),
            "runs": len(self.steps_by_run),
            "steps": sum(self.steps_by_run.values()),
            "errors": sum(self.errors.values()),
            "runs_written": self.runs_written,
            "rows_written": self.rows_written,
            "transitions": self.transitions,
            "offloaded_runs": self.offloaded_runs,
        }


class Ingestor:
    def __init__(
        self, *, pool: asyncpg.Pool, settings: Settings, writer: RunWriter | None = None, track_runs: bool = False
    ) -> None:
        self._track_runs = track_runs
        self._pool = pool
        self._settings = settings
        self._writer = writer or RunWriter(cache_runs=settings.ingest_fingerprint_cache_runs)
        self._queue: CoalescingQueue[str, RunState] = CoalescingQueue(max_keys=settings.ingest_max_pending_runs)
        self._tasks: list[asyncio.Task] = []
        self.stats = IngestStats()
        self.database_ok = True

    @property
    def queue(self) -> CoalescingQueue[str, RunState]:
        return self._queue

    # --- intake ----------------------------------------------------------------------------

    async def submit(self, event: WatchEvent) -> None:
        """Translate one watch event and queue its state; bad objects are logged and counted."""
        self.stats.events[event.type] += 1
        if event.type in ("BOOKMARK", "ERROR"):
            return
        try:
            state = translate_workflow(
                event.object,
                deleted=event.type == "DELETED",
                default_pod_name_format=self._settings.argo_pod_name_format,
                max_value_bytes=self._settings.ingest_max_value_bytes,
            )
        except TranslationError as exc:
            self.stats.errors["invalid_object"] += 1
            log.warning("skipped %s event: %s", event.type, exc)
            return
        except Exception:  # a translation bug must not stop the stream; it is loud in the log
            self.stats.errors["translation_bug"] += 1
            log.exception("could not translate %s event for %s", event.type, object_ref(event.object))
            return
        for warning in state.warnings:
            self.stats.warnings[warning.split(":", 1)[0]] += 1
            log.info("%s/%s: %s", state.run.namespace, state.run.name, warning)
        if state.run.nodes_offloaded:
            self.stats.offloaded_runs += 1
        if self._track_runs:
            self.stats.steps_by_run[state.run.id] = len(state.steps)
        await self._queue.put(state.run.id, state)

    # --- writers ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            raise RuntimeError("ingestor already started")
        for i in range(self._settings.ingest_workers):
            self._tasks.append(asyncio.create_task(self._write_loop(), name=f"ingest-writer-{i}"))

    async def drain(self) -> None:
        """Wait until every queued state is persisted."""
        await self._queue.wait_idle()

    async def stop(self) -> None:
        """Cancel the writers (call drain() first to keep queued work)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _write_loop(self) -> None:
        delay = 0.0
        while True:
            batch = await self._queue.get_batch(self._settings.ingest_batch_runs)
            keys = [key for key, _ in batch]
            try:
                ok = await self._write(batch)
            finally:
                await self._queue.done(keys)
            if ok:
                delay = 0.0
                self.database_ok = True
                continue
            self.database_ok = False
            self.stats.db_retries += 1
            delay = min(max(delay * 2, 0.1), self._settings.ingest_retry_max_seconds)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _write(self, batch: list[tuple[str, RunState]]) -> bool:
        """Persist a batch; False if the database is unavailable (the batch was requeued)."""
        states = [state for _, state in batch]
        try:
            await self._commit(states)
            return True
        except Exception as exc:
            if is_transient(exc):
                log.warning("database unavailable (%s); %d run state(s) requeued", exc, len(states))
                for key, state in batch:
                    self._queue.put_nowait_if_absent(key, state)
                return False
            log.warning("batch of %d run(s) failed (%s); retrying run by run", len(states), exc)
        for key, state in batch:
            try:
                await self._commit([state])
            except Exception as exc:
                if is_transient(exc):
                    self._queue.put_nowait_if_absent(key, state)
                    return False
                self.stats.errors["write_failed"] += 1
                log.error("could not store run %s/%s: %s", state.run.namespace, state.run.name, exc)
        return True

    async def _commit(self, states: list[RunState]) -> None:
        async with self._pool.acquire() as conn:
            result = await self._writer.write(conn, states)
        self.stats.batches += 1
        self.stats.runs_written += result.runs_written
        self.stats.runs_unchanged += result.runs_unchanged
        self.stats.runs_stale += result.runs_stale
        self.stats.rows_written += result.rows
        self.stats.transitions += result.transitions
