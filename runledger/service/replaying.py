"""Replaying files of watch events: `runledger replay` (ingest them, print counts), and the replay
source of `runledger run` without a cluster (ingest them, then serve until stopped; the demo when no
files are given: its wiring is runledger.demo's)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from pathlib import Path

import asyncpg
from aiohttp import web

from runledger.agent.exposition import ingest_metrics
from runledger.agent.ingest import Ingestor
from runledger.agent.replay import ReadPosition, ReplayErrors, read_events, unreadable
from runledger.api.app_keys import OBJECT_STORE, READINESS_CHECKS
from runledger.core.lifecycle import Service, first
from runledger.core.progress import Progress
from runledger.core.settings import Settings
from runledger.demo.artifact_store import enter_demo_artifact_store, replayed_paths
from runledger.service.database import migrate_database, open_pool, resolve_database
from runledger.service.command_errors import CommandError
from runledger.service.parts import (
    argo_node_status,
    build_ingestor,
    enter_indexer,
    enter_lineage_sender,
    part_reports,
    reporting,
)
from runledger.service.stopping import StopSignal

log = logging.getLogger(__name__)


async def replay_files(
    ingestor: Ingestor, paths: list[Path], errors: ReplayErrors, *, progress: Progress | None = None
) -> None:
    """Feed every event of `paths` to the ingestor (what cannot be read goes to `errors`); progress in
    bytes read, against the files' sizes."""
    position = ReadPosition()
    if progress is not None:
        progress.set_total(sum(path.stat().st_size for path in paths if path.is_file()))
    for path in paths:
        for event in read_events(path, errors, position=position):
            await ingestor.submit(event)
            if progress is not None:
                progress.update(position.bytes_read())
    if progress is not None:
        progress.update(position.bytes_read())


async def replay_to_the_end(
    ingestor: Ingestor, paths: list[Path], errors: ReplayErrors, *, progress: Progress | None = None
) -> None:
    await replay_files(ingestor, paths, errors, progress=progress)
    await ingestor.drain_all()


def check_replay_files(paths: list[Path]) -> None:
    """A name that does not exist is a mistake; an unreadable file among readable ones is bad input,
    counted and skipped like a bad line. With nothing readable there is nothing to replay."""
    problems = {path: unreadable(path) for path in paths}
    missing = [problem for path, problem in problems.items() if problem and not path.exists()]
    if missing or all(problems.values()):
        raise CommandError("; ".join(missing or problems.values()), code=2)


async def run_replay(settings: Settings, paths: list[Path], *, announce=print) -> int:
    """`runledger replay FILE...`: ingest files, print counts. Non-zero only if something read was not stored.

    The replay ends when every state it read is written, however long that takes; only a stop signal
    cuts it short (reading stops, queued states get the shutdown grace).
    """
    check_replay_files(paths)
    database = await resolve_database(settings.database)
    await migrate_database(database.dsn, log=settings.log)
    stop, errors = StopSignal(), ReplayErrors()
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(settings.database, database.dsn))
        node_status = await stack.enter_async_context(argo_node_status(settings.argo))
        ingestor = build_ingestor(settings=settings, pool=pool, track_runs=True, node_status=node_status)
        stack.enter_context(stop.installed())
        await stack.enter_async_context(ingestor)
        progress = stack.enter_context(
            Progress(what="replay", unit="bytes", interval=settings.log.progress_interval_seconds)
        )
        replay = replay_to_the_end(ingestor, paths, errors, progress=progress)
        completed = await first(stop=stop.event.wait(), replay=replay)
    if completed == "stop":
        log.warning("replay: stopped before the end of its input")
    return _replay_summary(ingestor, errors, paths=paths, completed=completed, announce=announce)


def _replay_summary(ingestor: Ingestor, errors: ReplayErrors, *, paths: list[Path], completed: str, announce) -> int:
    """Print the counts; the exit code of the replay."""
    errors.log_summary()
    kinds = errors.by_kind + ingestor.stats.errors
    summary = ingestor.stats.summary() | {"errors": kinds.total()}
    summary |= {f"errors.{kind}": n for kind, n in sorted(kinds.items())}
    announce(" ".join(f"{k}={v}" for k, v in summary.items()))
    if completed == "replay" and not summary["events"] and kinds:
        raise CommandError(
            f"nothing could be ingested from {', '.join(map(str, paths))} ({kinds.total()} errors): replay "
            "Kubernetes watch events or Workflow objects, as JSON or YAML",
            code=1,
        )
    return 0 if completed == "replay" and ingestor.drained else 1


async def run_replay_source(
    settings: Settings, *, pool: asyncpg.Pool, app: web.Application, parts: list[Service], stop: StopSignal,
    announce=print,
) -> int:  # fmt: skip
    """Replay files (the bundled recording by default) into the database, then serve until stopped;
    `parts` run beside (the API server)."""
    paths = replayed_paths(settings.replay)
    announce(f"runledger: ingesting {', '.join(str(p) for p in paths)} (replay source: no cluster configured)")
    async with contextlib.AsyncExitStack() as stack:
        settings, demo = await enter_demo_artifact_store(stack, settings, paths, object_store=app[OBJECT_STORE],
                                                         announce=announce)  # fmt: skip
        node_status = await stack.enter_async_context(argo_node_status(settings.argo))
        # The replay source is finite, so counting its runs for the summary is bounded.
        ingestor = await stack.enter_async_context(
            build_ingestor(settings=settings, pool=pool, track_runs=True, node_status=node_status)
        )
        indexers = await enter_indexer(stack, settings, pool=pool)
        senders = await enter_lineage_sender(stack, settings.openlineage, pool=pool)
        stack.enter_context(reporting(app, ingest=functools.partial(ingest_metrics, ingestor),
                                      **part_reports(indexers=indexers, senders=senders)))  # fmt: skip
        parts = [ingestor, *indexers, *senders, *demo, *parts]
        await _replay_then_serve(ingestor, paths, app=app, parts=parts, stop=stop, announce=announce)
    return 0


async def _replay_then_serve(
    ingestor: Ingestor, paths: list[Path], *, app: web.Application, parts: list[Service], stop: StopSignal, announce
) -> None:
    """Ready once every state of `paths` is written; then serve until stopped (or a part fails)."""
    source_done = asyncio.Event()

    async def source_check() -> tuple[bool, str]:
        return source_done.is_set(), "ingested" if source_done.is_set() else "initial ingest in progress"

    app[READINESS_CHECKS]["source"] = source_check
    errors = ReplayErrors()
    if await first(parts=parts, stop=stop.event.wait(), source=replay_to_the_end(ingestor, paths, errors)) != "source":
        return
    source_done.set()
    errors.log_summary()
    summary = ingestor.stats.summary()
    announce(
        f"runledger: replay done: {summary['events']} events, {summary['runs']} runs, "
        f"{summary['steps']} steps, {summary['errors'] + len(errors)} errors; serving until stopped"
    )
    await first(parts=parts, stop=stop.event.wait())
