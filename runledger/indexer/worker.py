"""The artifact indexer: workers that drain the durable queue in Postgres against S3.

One claimer task takes leased batches from ``artifact_queue`` (``FOR UPDATE SKIP LOCKED``) into a
small in-memory buffer; ``workers`` tasks HEAD objects concurrently (the only thing that waits on
S3); one recorder task writes outcomes in batches. A batch of HEAD outcomes is one statement
(``record_outcomes``: artifact rows, retries and finished queue entries together), atomic without
a transaction block, so it costs the database one round trip; the recorder lets outcomes gather
for a few milliseconds first, since a statement's fixed cost is paid per batch and a claim's lease
is minutes long. Only outcomes that carry metrics or file content add statements, and then the
batch is one transaction.

Outcomes: a successful HEAD records size, ETag, content type and last-modified — or nothing, when
the ETag is the one already stored (the object did not change). 404 and 403 are the object's state
(missing / forbidden), recorded once and not retried. 5xx, throttling and timeouts are retried with
a jittered exponential backoff kept in the queue row, so a restart resumes the schedule; after
``artifacts_max_attempts`` the object is marked failed with the last reason.

Objects a step produced as KFP's ``mlpipeline-metrics`` or ``mlpipeline-ui-metadata`` are also read
(size-capped, unpacked in memory by ``unpacking``) and parsed; what fails validation is recorded
against the artifact, and what passes is kept.

The indexer is a lifecycle.Service. Leaving ``async with ArtifactIndexer(...)`` stops claiming, lets
objects in flight finish within ``grace`` (a clean exit only), and gives unstarted claims back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from runledger.core.backoff import Backoff
from runledger.core.lifecycle import Service, first
from runledger.core.settings import ArtifactsSettings, IngestSettings
from runledger.indexer.unpacking import ArchiveError, unpack_single_file
from runledger.indexer.kfp_metrics import MetricsFileError, parse_metrics
from runledger.indexer.s3 import (
    Location,
    ObjectHead,
    ObjectStore,
    ObjectTooLarge,
    ObjectUnavailable,
    TransientS3Error,
)
from runledger.indexer.ui_metadata import UiMetadataError, parse_ui_metadata
from runledger.store.connection import is_retried_by_pollers, is_transient
from runledger.store.sql_blocks import q

log = logging.getLogger(__name__)

CLAIM_LEASE_SECONDS = 300.0
IDLE_POLL_SECONDS = 1.0
RECORD_BATCH = 256
RECORD_LINGER_SECONDS = 0.01


@dataclass
class IndexerStats:
    outcomes: Counter = field(default_factory=Counter)  # indexed, unchanged, missing, forbidden, failed, retried
    metrics_stored: int = 0
    # metrics_entry, metrics_file, metrics_over_run_limit, ui_metadata, archive, too_large
    content_errors: Counter = field(default_factory=Counter)
    s3_seconds: float = 0.0  # time workers spent awaiting S3
    db_errors: int = 0

    @property
    def checked(self) -> int:
        return sum(v for k, v in self.outcomes.items() if k != "retried")


@dataclass
class _Claim:
    id: int
    uri: str
    location: Location
    state: str
    etag: str | None
    attempts: int
    generation: int
    is_metrics: bool
    is_ui_metadata: bool
    metrics_unread: bool
    content_unread: bool


@dataclass
class _Outcome:
    claim: _Claim
    head: ObjectHead | None = None
    changed: bool = True
    unavailable: ObjectUnavailable | None = None
    transient: str | None = None
    metrics: list[tuple[str, float, str]] | None = None
    rematerialize: bool = False
    content: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Per producing run, how many of the file's metrics the run's cap left out (set when recorded).
    left_out: dict[str, int] = field(default_factory=dict)


class ArtifactIndexer(Service):
    name = "artifact indexer"

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        artifacts: ArtifactsSettings,
        ingest: IngestSettings,
        store: ObjectStore | None = None,
        poll_seconds: float = IDLE_POLL_SECONDS,
        grace: float = 10.0,
    ) -> None:
        super().__init__()
        self.grace = grace
        self._pool = pool
        self._poll_seconds = poll_seconds
        self._recording = False
        self._artifacts = artifacts
        self._retry_max_seconds = ingest.retry_max_seconds  # the database's, as the ingest writers retry it
        self._store = store or ObjectStore(artifacts=artifacts)
        self._owns_store = store is None
        self._work: asyncio.Queue[_Claim] = asyncio.Queue(maxsize=artifacts.claim_batch * 2)
        self._outcomes: asyncio.Queue[_Outcome] = asyncio.Queue(maxsize=RECORD_BATCH * 2)
        self._in_flight = 0
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._claimer: asyncio.Task | None = None
        self._unstarted: list[int] = []  # claims taken back from the buffer at shutdown
        self.stats = IndexerStats()
        self._unreported: Counter = Counter()  # missing, forbidden, failed: found since the last summary

    # --- lifecycle ------------------------------------------------------------------------------

    async def _start(self) -> None:
        self._stopping.clear()
        self._claimer = self.spawn(self._claim_loop(), name="artifacts-claimer")
        self.spawn(self._record_loop(), name="artifacts-recorder")
        for i in range(self._artifacts.workers):
            self.spawn(self._work_loop(), name=f"artifacts-worker-{i}")

    async def wait_drained(self) -> None:
        """Until the queue is empty and nothing is in flight (tests, one-shot runs); raises if a task died."""
        self._idle.clear()
        await first(idle=self._idle.wait(), parts=[self])

    def _busy(self) -> bool:
        return bool(self._in_flight or self._recording or not self._work.empty() or not self._outcomes.empty())

    async def _quiesce(self) -> None:
        self._stopping.set()
        if self._claimer is not None:
            await self.end([self._claimer])
        while not self._work.empty():
            self._unstarted.append(self._work.get_nowait().id)

    async def _finish(self) -> None:
        while self._in_flight or self._recording or not self._outcomes.empty():
            await asyncio.sleep(0.02)

    def _unfinished(self) -> str:
        return f"{self._in_flight} object(s) still in flight; their claims expire"

    async def _close(self) -> None:
        unstarted, self._unstarted = self._unstarted, []
        if unstarted:
            try:
                async with self._pool.acquire() as conn:
                    await conn.execute(q("release_artifacts"), unstarted)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("artifact indexer: could not release %d claim(s) (%s); they expire", len(unstarted), exc)
        if self._owns_store:
            await self._store.close()

    # --- claiming ---------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        backoff = Backoff(0.5, 30.0)
        while True:
            room = self._work.maxsize - self._work.qsize()
            if room < self._artifacts.claim_batch // 2:
                await asyncio.sleep(0.01)
                continue
            try:
                async with self._pool.acquire() as conn:
                    rows = await conn.fetch(q("claim_artifacts"), min(room, self._artifacts.claim_batch),
                                            CLAIM_LEASE_SECONDS)
                    drained = not rows and not self._busy() and (await conn.fetchrow(q("artifact_backlog")))["queued"] == 0
            except Exception as exc:
                if not is_retried_by_pollers(exc):
                    raise
                self.stats.db_errors += 1
                delay = backoff.next()
                log.warning("artifact indexer: cannot claim (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            if drained:
                self._report_unavailable()
                self._idle.set()
            if not rows:
                await asyncio.sleep(self._poll_seconds)
                continue
            for row in rows:
                await self._work.put(_claim_of(row))

    # --- working --------------------------------------------------------------------------------

    async def _work_loop(self) -> None:
        while True:
            claim = await self._work.get()
            self._in_flight += 1
            try:
                outcome = await self._check(claim)
                await self._outcomes.put(outcome)
            finally:
                self._in_flight -= 1

    async def _check(self, claim: _Claim) -> _Outcome:
        outcome = _Outcome(claim)
        started = time.perf_counter()
        try:
            outcome.head = await self._store.head(claim.location)
            outcome.changed = not (claim.state == "indexed" and claim.etag and claim.etag == outcome.head.etag)
            if claim.is_metrics and (outcome.changed or claim.metrics_unread):
                await self._read_metrics(outcome)
            elif claim.is_metrics:
                # Same object, already read: only its new producers need its metrics.
                outcome.rematerialize = True
            elif claim.is_ui_metadata and (outcome.changed or claim.content_unread):
                await self._read_ui_metadata(outcome)
        except ObjectUnavailable as exc:
            outcome.unavailable = exc
        except TransientS3Error as exc:
            outcome.transient = str(exc)
        finally:
            self.stats.s3_seconds += time.perf_counter() - started
        return outcome

    async def _read(self, outcome: _Outcome) -> bytes | None:
        cap = self._artifacts.max_object_bytes
        assert outcome.head is not None
        # Archive overhead aside, an object bigger than the cap cannot hold a file within it.
        if outcome.head.size > cap + 64 * 1024:
            outcome.errors.append({"reason": f"object is {outcome.head.size} bytes, over the {cap}-byte cap"})
            self.stats.content_errors["too_large"] += 1
            return None
        try:
            data = await self._store.read(outcome.claim.location, max_bytes=cap + 64 * 1024)
            return unpack_single_file(data, max_bytes=cap)
        except (ObjectTooLarge, ArchiveError) as exc:
            outcome.errors.append({"reason": str(exc)})
            self.stats.content_errors["archive"] += 1
            return None

    async def _read_metrics(self, outcome: _Outcome) -> None:
        data = await self._read(outcome)
        if data is None:
            outcome.metrics = []
            return
        try:
            report = parse_metrics(
                data,
                max_file_bytes=self._artifacts.max_object_bytes,
                max_metrics=self._artifacts.max_metrics,
            )
        except MetricsFileError as exc:
            outcome.metrics = []
            outcome.errors.append({"reason": f"metrics file rejected: {exc}"})
            self.stats.content_errors["metrics_file"] += 1
            return
        outcome.metrics = [(m.name, m.value, m.format) for m in report.metrics]
        for error in report.errors:
            outcome.errors.append({"index": error.index, "name": error.name, "reason": error.reason})
        self.stats.content_errors["metrics_entry"] += len(report.errors)

    async def _read_ui_metadata(self, outcome: _Outcome) -> None:
        data = await self._read(outcome)
        if data is None:
            return
        try:
            ui = parse_ui_metadata(data, max_bytes=self._artifacts.max_object_bytes)
        except UiMetadataError as exc:
            outcome.errors.append({"reason": f"ui metadata rejected: {exc}"})
            self.stats.content_errors["ui_metadata"] += 1
            return
        outcome.content = {"outputs": list(ui.outputs)}
        outcome.errors.extend({"reason": warning} for warning in ui.warnings)

    # --- recording ------------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            batch = [await self._outcomes.get()]
            self._recording = True
            try:
                if self._outcomes.qsize() < RECORD_BATCH and not self._stopping.is_set():
                    await asyncio.sleep(RECORD_LINGER_SECONDS)
                while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                    batch.append(self._outcomes.get_nowait())
                await self._record_with_retry(batch)
            finally:
                self._recording = False

    async def _record_with_retry(self, batch: list[_Outcome]) -> None:
        backoff = Backoff(0.2, self._retry_max_seconds)
        while True:
            try:
                async with self._pool.acquire() as conn:
                    if any(_has_content(o) for o in batch):
                        async with conn.transaction():
                            await self._record(conn, batch)
                    else:
                        await self._record(conn, batch)
                break
            except Exception as exc:
                if not is_retried_by_pollers(exc):
                    raise
                # The outcomes stay in memory meanwhile; claims run out only after their lease.
                self.stats.db_errors += 1
                log.warning("artifact indexer: cannot record %d outcome(s) (%s); retrying", len(batch), exc)
                await asyncio.sleep(backoff.next())
        self._count(batch)

    async def _record(self, conn: asyncpg.Connection, batch: list[_Outcome]) -> None:
        heads: list[list[Any]] = [[], [], [], [], []]
        unavailable: list[list[Any]] = [[], [], []]
        retry: list[list[Any]] = [[], [], []]
        finished: list[list[Any]] = [[], []]
        for o in batch:
            c = o.claim
            if o.transient is not None:
                if c.attempts >= self._artifacts.max_attempts:
                    reason = f"gave up after {c.attempts} attempts: {o.transient}"
                    _add(unavailable, c.id, "failed", reason)
                    _add(finished, c.id, c.generation)
                else:
                    _add(retry, c.id, o.transient, self._backoff(c.attempts))
                continue
            _add(finished, c.id, c.generation)
            if o.unavailable is not None:
                _add(unavailable, c.id, o.unavailable.state, o.unavailable.reason)
                continue
            assert o.head is not None
            if o.changed:
                h = o.head
                _add(heads, c.id, h.size, h.etag, h.content_type, h.last_modified)
            if o.metrics is not None:
                names, values, formats = (list(x) for x in zip(*o.metrics)) if o.metrics else ([], [], [])
                await conn.execute(q("replace_artifact_metrics"), c.id, names, values, formats)
            errors = o.errors
            if o.metrics is not None or o.rematerialize:
                cap = self._artifacts.max_metrics
                rows = await conn.fetch(q("materialize_metrics"), c.id, cap)
                await conn.execute(q("refresh_run_metrics"), c.id)
                o.left_out = {r["run_id"]: r["left_out"] for r in rows}
                # A file read anew has its errors rewritten whole; one only given to a new producer
                # keeps those it has, and the left-out count goes to the log and the counters.
                if o.metrics is not None:
                    errors = errors + [
                        {"run_id": run, "reason": f"run {run} already holds the most metrics a run keeps ({cap}): "
                                                  f"{n} of this file's metrics not stored for it"}
                        for run, n in o.left_out.items()
                    ]  # fmt: skip
            if o.metrics is not None or o.content is not None or errors:
                await conn.execute(q("record_content"), c.id, o.content, errors)
        await conn.execute(q("record_outcomes"), *heads, *unavailable, *retry, *finished)

    def _report_unavailable(self) -> None:
        """One line for the objects found missing or forbidden since the queue last drained.

        An object that is not in S3 is an answer, not an error (a step that wrote nothing, a bucket
        cleaned up), and there can be thousands: each is logged at DEBUG, and the API lists them.
        """
        for state, count in sorted(self._unreported.items()):
            where = {"missing": "missing in S3", "forbidden": "forbidden by S3"}.get(state, "refused by S3")
            log.info("%d artifact(s) %s (see GET /api/v1/artifacts?state=%s)", count, where, state)
        self._unreported.clear()

    def _backoff(self, attempts: int) -> float:
        ceiling = min(self._artifacts.retry_max_seconds, 2.0 ** attempts)
        return random.uniform(ceiling / 2, ceiling)

    def _count(self, batch: list[_Outcome]) -> None:
        for o in batch:
            if o.transient is not None:
                failed = o.claim.attempts >= self._artifacts.max_attempts
                self.stats.outcomes["failed" if failed else "retried"] += 1
                if failed:
                    log.warning("artifact %s: %s; giving up after %d attempts", o.claim.uri, o.transient, o.claim.attempts)
            elif o.unavailable is not None:
                self.stats.outcomes[o.unavailable.state] += 1
                self._unreported[o.unavailable.state] += 1
                log.debug("artifact %s is %s: %s", o.claim.uri, o.unavailable.state, o.unavailable.reason)
            else:
                self.stats.outcomes["indexed" if o.changed else "unchanged"] += 1
                if o.metrics:
                    self.stats.metrics_stored += len(o.metrics)
                for error in o.errors:
                    log.info("artifact %s: %s", o.claim.uri, error["reason"])
                for run, n in o.left_out.items():
                    self.stats.content_errors["metrics_over_run_limit"] += n
                    log.warning("artifact %s: run %s already holds %d metrics, the most a run keeps: %d of this "
                                "file's metrics not stored for it", o.claim.uri, run,
                                self._artifacts.max_metrics, n)  # fmt: skip


def _claim_of(row: asyncpg.Record) -> _Claim:
    return _Claim(
        id=row["id"],
        uri=row["uri"],
        location=Location(
            bucket=row["bucket"], key=row["key"], endpoint=row["endpoint"], region=row["region"],
            insecure=row["insecure"],
        ),
        state=row["state"],
        etag=row["etag"],
        attempts=row["attempts"],
        generation=row["generation"],
        is_metrics=row["is_metrics"],
        is_ui_metadata=row["is_ui_metadata"],
        metrics_unread=row["metrics_unread"],
        content_unread=row["content_unread"],
    )


def _has_content(o: _Outcome) -> bool:
    """Whether recording `o` takes statements of its own (see _record)."""
    return o.transient is None and o.unavailable is None and (
        o.metrics is not None or o.rematerialize or o.content is not None or bool(o.errors))


def _add(columns: list[list[Any]], *row: Any) -> None:
    for col, value in zip(columns, row, strict=True):
        col.append(value)

