"""Backfill imports: finite sources read in keyset order, through the one ingest path, resumable.

An import reads its source a page at a time, in the order of a unique key. Each page's workflows go
to the ``Ingestor`` like watched ones (translate → coalesce → write); once they are persisted the key
of the page's last row is saved as the import's checkpoint (the ``watch_checkpoints`` table, under
``import:<kind>:<digest of the source and its filters>``). An import started again resumes after the
last saved key, so an interrupted one costs at most the page in flight, read twice: ingest is
idempotent (an unchanged state writes nothing), so the result is the same database as an
uninterrupted import's. The next page is read while the current one is written, and a page is
submitted while the writers still work on earlier ones: a page's checkpoint is saved once every state
submitted up to its last row is persisted.

A row that cannot be read (not JSON, not a Workflow) is counted by kind and the first ones logged
with their key; it never stops the import. Progress goes to stderr every few seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from runledger.agent.ingest import Ingestor
from runledger.agent.source_databases import SourceError
from runledger.core.models import WatchEvent
from runledger.core.progress import Progress
from runledger.store.checkpoints import PgCheckpointStore

log = logging.getLogger(__name__)

_LOG_FIRST_BAD_ROWS = 10


@dataclass
class ImportRow:
    key: str  # the import resumes after this row once it is persisted
    ref: str  # names the row in messages
    workflow: dict[str, Any] | None = None
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


async def run_import(
    source: ImportSource,
    *,
    ingestor: Ingestor,
    pool: asyncpg.Pool,
    page_size: int = 500,
    progress: Progress | None = None,
) -> ImportReport:
    """Import `source` from its checkpoint to its end. Source faults propagate; bad rows are counted."""
    checkpoints = PgCheckpointStore(pool)
    stream = checkpoint_stream(source)
    report = ImportReport(resumed_after=await checkpoints.load(stream))
    if progress is not None:
        progress.set_total(await source.count(after=report.resumed_after))
    started = time.perf_counter()
    # Pages submitted but maybe not yet persisted, oldest first: (sequence number of the page's last
    # state, the page). Writers keep working on one page while the next is read and translated.
    unsaved: deque[tuple[int, list[ImportRow]]] = deque()
    page = await source.read(after=report.resumed_after, limit=page_size)
    while page:
        # Read ahead: the source's latency overlaps the writes of this page.
        ahead = asyncio.create_task(source.read(after=page[-1].key, limit=page_size), name=f"import-{source.kind}-read")
        try:
            for row in page:
                await _submit(row, ingestor=ingestor, report=report)
            unsaved.append((ingestor.submitted(), page))
            await _save_persisted(unsaved, ingestor.persisted_below(), source=source, pool=pool,
                                  checkpoints=checkpoints, stream=stream)  # fmt: skip
        except BaseException:
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)
            raise
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress.update(report.rows)
        try:
            page = await ahead
        except SourceError:
            # What was submitted is still written and checkpointed: a resumed import starts after it.
            await ingestor.drain_all()
            await _save_persisted(unsaved, ingestor.persisted_below(), source=source, pool=pool,
                                  checkpoints=checkpoints, stream=stream)  # fmt: skip
            raise
    await ingestor.drain_all()
    await _save_persisted(unsaved, ingestor.persisted_below(), source=source, pool=pool, checkpoints=checkpoints,
                          stream=stream)  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report


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


async def _submit(row: ImportRow, *, ingestor: Ingestor, report: ImportReport) -> None:
    report.rows += 1
    if row.bad is not None:
        kind, reason = row.bad
        report.bad[kind] += 1
        if report.bad.total() <= _LOG_FIRST_BAD_ROWS:
            log.warning("import: %s: %s", row.ref, reason)
        return
    report.imported += 1
    await ingestor.submit(WatchEvent(type="ADDED", object=row.workflow))


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
    return ImportRow(key=key, ref=ref, workflow=value)
