"""Backfill imports: finite sources read in keyset order, written in bulk by the one ingest path, resumable.

An import reads its source a page at a time, in the order of a unique key. Each page's workflows are
translated by the ``Ingestor`` as watched ones are and written by the importer itself, without
waiting in the coalescing queue: ``Ingestor.take`` claims the page's runs in the queue (waiting, as
the queue's intake does, while what is held is past the ingest memory bounds) and ``write_taken``
writes them as a writer of the queue writes its batch, in transactions of ``ingest.batch_runs`` runs,
rows in run id order; a batch the database refuses goes back to the queue and the import backs off.
As many pages are written at once as the ingest path has writers.
A workflow whose nodes Argo offloaded, or a run the queue or another page already holds, goes
through the queue as a watched one would. Once a page is persisted the key of its last row is saved
as the import's checkpoint (the ``watch_checkpoints`` table, under ``import:<kind>:<digest of the
source and its filters>``). An import started again resumes after the last saved key, so an
interrupted one costs at most the pages in flight, read twice: ingest is idempotent (an unchanged
state writes nothing), so the result is the same database as an uninterrupted import's. The next
page is read and translated while earlier ones are written (Postgres works while the agent translates).

A row that cannot be read (not JSON, not a Workflow) is counted by kind and the first ones logged
with their key; it never stops the import. Progress goes to stderr every few seconds.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from runledger.agent.ingest import Ingestor
from runledger.agent.source_databases import SourceError
from runledger.agent.translate import text_holds_no_nul
from runledger.core.run_state import RunState, WatchEvent
from runledger.core.progress import Progress
from runledger.store.checkpoints import PgCheckpointStore

log = logging.getLogger(__name__)

_LOG_FIRST_BAD_ROWS = 10
# Workflows translated between two yields to the event loop (some 10 ms of CPU).
_TRANSLATE_BETWEEN_YIELDS = 8


@dataclass
class ImportRow:
    key: str  # the import resumes after this row once it is persisted
    ref: str  # names the row in messages
    workflow: dict[str, Any] | None = None  # dropped once translated
    nul_free: bool = False  # the workflow's text passed text_holds_no_nul
    bad: tuple[str, str] | None = None  # (kind, reason) when the row cannot be imported
    extra: Any = None  # what the source writes beside the run, once persisted


class ImportSource(Protocol):
    kind: str  # "argo-archive", "kfp"
    scope: str  # the source and its filters, without secrets: names the checkpoint

    async def read(self, *, after: str | None, limit: int) -> list[ImportRow]: ...

    async def count(self, *, after: str | None) -> int: ...

    async def persisted(self, rows: list[ImportRow], *, pool: asyncpg.Pool) -> None: ...


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0  # rows handed to the ingest path
    bad: Counter[str] = field(default_factory=Counter)
    resumed_after: str | None = None
    seconds: float = 0.0

    def line(self, ingest_errors: Counter[str]) -> str:
        errors = self.bad + ingest_errors
        parts = [f"rows={self.rows}", f"imported={self.imported}", f"errors={errors.total()}"]
        parts += [f"errors.{kind}={n}" for kind, n in sorted(errors.items())]
        rate = self.rows / self.seconds if self.seconds else 0.0
        return " ".join([*parts, f"seconds={self.seconds:.1f}", f"rows_per_second={rate:.0f}"])


def checkpoint_stream(source: ImportSource) -> str:
    return f"import:{source.kind}:{hashlib.sha256(source.scope.encode()).hexdigest()[:16]}"


@dataclass
class _Page:
    rows: list[ImportRow]
    states: list[RunState]  # the rows' workflows translated: written in bulk
    waiting: list[ImportRow]  # workflows whose nodes Argo offloaded: they go through the queue, which reads them


async def run_import(
    source: ImportSource,
    *,
    ingestor: Ingestor,
    pool: asyncpg.Pool,
    page_size: int = 500,
    writers: int = 4,
    progress: Progress | None = None,
) -> ImportReport:
    """Import `source` from its checkpoint to its end, `writers` pages written at once.

    Source faults propagate; bad rows are counted."""
    checkpoints = PgCheckpointStore(pool)
    stream = checkpoint_stream(source)
    report = ImportReport(resumed_after=await checkpoints.load(stream))
    if progress is not None:
        progress.set_total(await source.count(after=report.resumed_after))
    started = time.perf_counter()
    # Pages submitted but maybe not yet persisted, oldest first: (sequence number of the page's last
    # state, the page). A page is written at once, but its offloaded workflows wait in the queue.
    unsaved: deque[tuple[int, list[ImportRow]]] = deque()
    save = functools.partial(_save_persisted, unsaved, source=source, pool=pool, checkpoints=checkpoints, stream=stream)
    # Pages being written, oldest first: as many at once as the ingest path has writers.
    writes: deque[asyncio.Task] = deque()
    page = await _read(source, after=report.resumed_after, limit=page_size, ingestor=ingestor)
    while page.rows:
        # Read and translate ahead: the source's latency and the agent's CPU overlap the pages' writes.
        ahead = asyncio.create_task(_read(source, after=page.rows[-1].key, limit=page_size, ingestor=ingestor),
                                    name=f"import-{source.kind}-read")  # fmt: skip
        try:
            await _start_writing(page, ingestor=ingestor, report=report, writes=writes, writers=writers,
                                 kind=source.kind)  # fmt: skip
            unsaved.append((ingestor.submitted(), page.rows))
            await save(ingestor.persisted_below())
        except BaseException:
            await _cancelled(ahead, *writes)
            raise
        _note_progress(report, started=started, progress=progress)
        try:
            page = await ahead
        except SourceError:
            # What was submitted is still written and checkpointed: a resumed import starts after it.
            await _settled(writes, ingestor=ingestor, save=save)
            raise
        except BaseException:  # stopped (or a bug) while reading ahead: no page is left writing unowned
            await _cancelled(*writes)
            raise
    await _settled(writes, ingestor=ingestor, save=save)
    report.seconds = time.perf_counter() - started
    return report


def _note_progress(report: ImportReport, *, started: float, progress: Progress | None) -> None:
    report.seconds = time.perf_counter() - started
    if progress is not None:
        progress.update(report.rows)


async def _start_writing(
    page: _Page, *, ingestor: Ingestor, report: ImportReport, writes: deque[asyncio.Task], writers: int, kind: str
) -> None:
    """Count the page's rows, queue its offloaded workflows and start writing the rest once a writer is free."""
    for row in page.rows:
        _count(row, report=report)
    for row in page.waiting:
        await ingestor.submit(WatchEvent(type="ADDED", object=row.workflow, nul_free=row.nul_free))
    while len(writes) >= writers:
        await writes.popleft()
    batch = await ingestor.take(page.states)
    writes.append(asyncio.create_task(ingestor.write_taken(batch), name=f"import-{kind}-write"))
    # The task starts now, before anything can cancel it: it releases what take() holds however it ends.
    await asyncio.sleep(0)


async def _settled(writes: deque[asyncio.Task], *, ingestor: Ingestor, save: Callable[[int], Awaitable[None]]) -> None:
    """Every page written, every queued workflow persisted, and the checkpoint saved past them."""
    await _written(writes)
    await ingestor.drain_all()
    await save(ingestor.persisted_below())


async def _cancelled(*tasks: asyncio.Task) -> None:
    """Cancel the tasks and wait until each has ended."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _written(writes: deque[asyncio.Task]) -> None:
    """Wait for every page being written; on a failure the others are cancelled."""
    try:
        while writes:
            await writes[0]
            writes.popleft()
    except BaseException:
        await _cancelled(*writes)
        raise


async def _read(source: ImportSource, *, after: str | None, limit: int, ingestor: Ingestor) -> _Page:
    """A page of the source, its workflows translated by the ingest path's own translation."""
    rows = await source.read(after=after, limit=limit)
    page = _Page(rows=rows, states=[], waiting=[])
    for i, row in enumerate(rows, 1):
        if row.workflow is None:
            continue
        if ingestor.waits_for_nodes(row.workflow):
            page.waiting.append(row)
        else:
            state = ingestor.translate_event(WatchEvent(type="ADDED", object=row.workflow, nul_free=row.nul_free))
            # The row is kept until its page is checkpointed, its parsed JSON is not: held, a page's
            # thousands of objects per workflow were scanned by every full collection while pages were written.
            row.workflow = None
            if state is not None:
                page.states.append(state)
        if i % _TRANSLATE_BETWEEN_YIELDS == 0:
            await asyncio.sleep(0)  # lets the write of the page before send its next statement
    return page


async def _save_persisted(
    unsaved: deque[tuple[int, list[ImportRow]]], persisted_below: int, *, source: ImportSource, pool: asyncpg.Pool,
    checkpoints: PgCheckpointStore, stream: str,
) -> None:  # fmt: skip
    """Finish the pages whose every state is persisted, and checkpoint after the last of them."""
    done: list[ImportRow] = []
    while unsaved and unsaved[0][0] < persisted_below:
        done.extend(unsaved.popleft()[1])
    if done:
        await source.persisted(done, pool=pool)
        await checkpoints.save(stream, done[-1].key)


def _count(row: ImportRow, *, report: ImportReport) -> None:
    report.rows += 1
    if row.bad is not None:
        kind, reason = row.bad
        report.bad[kind] += 1
        if report.bad.total() <= _LOG_FIRST_BAD_ROWS:
            log.warning("import: %s: %s", row.ref, reason)
        return
    report.imported += 1


def parse_workflow(text: Any, *, key: str, ref: str, what: str = "workflow") -> ImportRow:
    """A row holding a Workflow's JSON; a bad row when it is not a JSON object."""
    import orjson

    if text is None or text == "":
        return ImportRow(key=key, ref=ref, bad=("missing_workflow", f"no {what} stored"))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return ImportRow(key=key, ref=ref, bad=("invalid_json", f"the {what} is not JSON: {exc}"))
    if not isinstance(value, dict):
        return ImportRow(key=key, ref=ref, bad=("invalid_json", f"the {what} is a JSON {type(value).__name__}"))
    nul_free = isinstance(text, str | bytes) and text_holds_no_nul(text)
    return ImportRow(key=key, ref=ref, workflow=value, nul_free=nul_free)
