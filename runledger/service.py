"""Composition and lifecycle: the database, the ingest path and the API, started and stopped in order.

Start: resolve the database (a DSN, or the embedded server), migrate, open one pool, start the
writers and the API. Stop (first SIGINT/SIGTERM): stop intake, give queued states a grace period
to reach Postgres, stop the writers, the API, then the pool. A second signal exits at once.
Every task is named and awaited; a task that dies unexpectedly stops the service loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg
from aiohttp import web

from runledger.agent.ingest import Ingestor
from runledger.agent.replay import ReplayError, read_events
from runledger.metadata import db, embedded, migrations
from runledger.metadata.api.app import create_app
from runledger.metadata.api.keys import READINESS_CHECKS
from runledger.settings import Settings

log = logging.getLogger(__name__)

DRAIN_GRACE_SECONDS = 20.0


@dataclass(frozen=True)
class Database:
    dsn: str
    description: str  # where the data lives, for people


async def resolve_database(settings: Settings) -> Database:
    if settings.database_url:
        return Database(settings.database_url, "the Postgres at RUNLEDGER_DATABASE_URL")
    dsn = await embedded.start_embedded(settings.embedded_pgdata)
    return Database(dsn, f"an embedded Postgres in {settings.embedded_pgdata}")


async def migrate_database(dsn: str) -> list[migrations.Migration]:
    conn = await db.connect(dsn)
    try:
        return await migrations.migrate(conn)
    finally:
        await conn.close()


def bundled_recording() -> Path:
    return Path(str(resources.files("runledger.demo") / "recording.jsonl.gz"))


@contextlib.asynccontextmanager
async def open_pool(settings: Settings, dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, settings=settings)
    try:
        yield pool
    finally:
        await pool.close()


async def replay_files(ingestor: Ingestor, paths: list[Path], errors: list[ReplayError]) -> None:
    """Feed every event of `paths` to the ingestor (parse errors go to `errors`)."""
    for path in paths:
        for event in read_events(path, errors):
            await ingestor.submit(event)


async def drain_and_stop(ingestor: Ingestor, *, grace: float = DRAIN_GRACE_SECONDS) -> bool:
    """Give queued states `grace` seconds to be written, then stop the writers. True if all were written."""
    drained = True
    try:
        async with asyncio.timeout(grace):
            await ingestor.drain()
    except TimeoutError:
        drained = False
        log.error("shutdown: %d run state(s) not written within %.0fs", len(ingestor.queue), grace)
    finally:
        await ingestor.stop()
    return drained


class StopSignal:
    """First SIGINT/SIGTERM: graceful stop. Second: exit now."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.event.is_set():
            log.warning("second %s: exiting now", sig.name)
            os._exit(130)
        log.info("%s: stopping (send again to exit at once)", sig.name)
        self.event.set()


async def serve_api(app: web.Application, *, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run_main(settings: Settings, *, announce=print) -> int:
    """`runledger run`: ingest (replay source when no cluster is configured) and serve the API."""
    database = await resolve_database(settings)
    await migrate_database(database.dsn)
    paths = settings.replay_paths or [bundled_recording()]
    stop = StopSignal()
    stop.install()
    async with open_pool(settings, database.dsn) as pool:
        # The replay source is finite, so counting its runs for the summary is bounded.
        ingestor = Ingestor(pool=pool, settings=settings, track_runs=True)
        ingestor.start()
        app = create_app(settings=settings, pool=pool)
        source_done = asyncio.Event()

        async def source_check() -> tuple[bool, str]:
            return source_done.is_set(), "ingested" if source_done.is_set() else "initial ingest in progress"

        app[READINESS_CHECKS]["source"] = source_check
        runner = await serve_api(app, host=settings.api_host, port=settings.api_port)
        base = f"http://{settings.api_host}:{settings.api_port}"
        announce(f"runledger: data in {database.description}")
        announce(f"runledger: ingesting {', '.join(str(p) for p in paths)} (replay source: no cluster configured)")
        announce(f"runledger: API on {base}  (Ctrl-C to stop)")
        announce(f"  curl -s '{base}/api/v1/runs?limit=5'")
        announce(f"  curl -s '{base}/api/v1/runs?phase=Failed'")
        errors: list[ReplayError] = []
        source = asyncio.create_task(replay_files(ingestor, paths, errors), name="replay-source")
        stopper = asyncio.create_task(stop.event.wait(), name="stop-signal")
        try:
            done, _ = await asyncio.wait({source, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if source in done:
                source.result()  # a crashed source stops the service loudly
                await ingestor.drain()
                source_done.set()
                for err in errors:
                    log.warning("replay: %s: %s", err.where, err.reason)
                summary = ingestor.stats.summary()
                announce(
                    f"runledger: replay done: {summary['events']} events, {summary['runs']} runs, "
                    f"{summary['steps']} steps, {summary['errors'] + len(errors)} errors; serving until stopped"
                )
                await stopper
        finally:
            for task in (source, stopper):
                task.cancel()
            await asyncio.gather(source, stopper, return_exceptions=True)
            await drain_and_stop(ingestor)
            await runner.cleanup()
    return 0


async def run_api(settings: Settings, *, host: str, port: int, announce=print) -> int:
    """`runledger api`: the read API alone (a read replica)."""
    database = await resolve_database(settings)
    await migrate_database(database.dsn)
    stop = StopSignal()
    stop.install()
    async with open_pool(settings, database.dsn) as pool:
        runner = await serve_api(create_app(settings=settings, pool=pool), host=host, port=port)
        announce(f"runledger: read API on http://{host}:{port}, data in {database.description}")
        try:
            await stop.event.wait()
        finally:
            await runner.cleanup()
    return 0


async def run_replay(settings: Settings, paths: list[Path], *, announce=print) -> int:
    """`runledger replay FILE...`: ingest files, print counts. Non-zero only on a fatal error."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        announce(f"runledger replay: no such file: {', '.join(map(str, missing))}")
        return 2
    database = await resolve_database(settings)
    await migrate_database(database.dsn)
    async with open_pool(settings, database.dsn) as pool:
        ingestor = Ingestor(pool=pool, settings=settings, track_runs=True)
        ingestor.start()
        errors: list[ReplayError] = []
        try:
            await replay_files(ingestor, paths, errors)
        finally:
            drained = await drain_and_stop(ingestor)
    for err in errors:
        log.warning("replay: %s: %s", err.where, err.reason)
    summary = ingestor.stats.summary()
    summary["errors"] += len(errors)
    announce(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0 if drained else 1


async def run_migrate(settings: Settings, *, announce=print) -> int:
    database = await resolve_database(settings)
    applied = await migrate_database(database.dsn)
    announce(f"runledger migrate: {len(applied)} migration(s) applied to {database.description}")
    return 0
