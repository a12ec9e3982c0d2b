"""Composition and lifecycle: the database, the ingest path and the API, started and stopped in order.

Start: resolve the database (a DSN, or the embedded server), migrate, open one pool, start the
writers and the API. Stop (first SIGINT/SIGTERM): stop intake, give queued states a grace period
to reach Postgres, stop the writers, the API, then the pool. A second signal exits at once.
Every task is named and awaited; a task that dies unexpectedly stops the service loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import SecretStr

from runledger.agent import cluster
from runledger.agent.argo_archive import ArgoArchive
from runledger.agent.argo_database import NodeStatus, OffloadTable
from runledger.agent.artifact_repositories import ClusterRepositories
from runledger.agent.exposition import ingest_metrics, watch_metrics
from runledger.agent.importing import ImportReport
from runledger.agent.importing import run_import as run_import_source
from runledger.agent.ingest import Ingestor
from runledger.agent.kfp_database import KfpRuns
from runledger.agent.leader import LeaderElector, LeaseSettings
from runledger.agent.replay import ReplayErrors, read_events
from runledger.agent.source_databases import SourceDatabase, SourceError
from runledger.api import prometheus, serving
from runledger.api.app import create_app
from runledger.api.keys import LIVENESS_CHECKS, READINESS_CHECKS
from runledger.api.prometheus import indexer_metrics
from runledger.api.responses import model_response
from runledger.core.repositories import RepositoryRegistry
from runledger.core.settings import Settings
from runledger.demo.objects import (
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    demo_objects,
    embedded_s3,
)
from runledger.indexer.worker import ArtifactIndexer
from runledger.store import connection as db
from runledger.store import embedded, migrations
from runledger.store.checkpoints import PgCheckpointStore
from runledger.store.records import Health

log = logging.getLogger(__name__)


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


@contextlib.asynccontextmanager
async def argo_node_status(settings: Settings, *, url: str | None = None) -> AsyncIterator[NodeStatus | None]:
    """Offloaded node status from Argo's database (`url`, or RUNLEDGER_ARGO_DATABASE_URL); None when unset."""
    url = url or settings.argo_database_url
    if not url:
        yield None
        return
    # Connections are opened on first use: Argo's database being down must not stop the agent.
    source = SourceDatabase(url, max_connections=2)
    await source.open()
    try:
        table = OffloadTable(
            source=source, table=settings.argo_database_offload_table, cluster=settings.argo_database_cluster_name
        )
        yield NodeStatus(
            table=table, retry_initial=0.2, retry_max=10.0, wait_seconds=settings.argo_database_offload_wait_seconds
        )
    finally:
        await source.close()


async def replay_files(ingestor: Ingestor, paths: list[Path], errors: ReplayErrors) -> None:
    """Feed every event of `paths` to the ingestor (what cannot be read goes to `errors`)."""
    for path in paths:
        for event in read_events(path, errors):
            await ingestor.submit(event)


async def drain_and_stop(ingestor: Ingestor, *, grace: float) -> bool:
    """Give queued states `grace` seconds to be written, then stop the writers. True if all were written."""
    drained = True
    try:
        async with asyncio.timeout(grace):
            await ingestor.drain()
    except TimeoutError:
        drained = False
        log.error("shutdown: %d run state(s) not written within %gs", ingestor.unwritten(), grace)
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

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.event.is_set():
            log.warning("second %s: exiting now", sig.name)
            os._exit(130)
        log.info("%s: stopping (send again to exit at once)", sig.name)
        self.event.set()


async def serve_api(app: web.Application, *, settings: Settings, host: str, port: int) -> web.AppRunner:
    return await serving.serve(app, settings=settings, host=host, port=port)


@contextlib.asynccontextmanager
async def answering_health_checks(settings: Settings, *, host: str, port: int) -> AsyncIterator[None]:
    """While migrations run, the API port answers the probes alone: /healthz 200 (alive: a startup
    probe must not kill a pod in the middle of a long migration, which would roll it back and start
    it over), /readyz 503 (no traffic yet)."""
    applying = {"migrations": "applying"}

    async def healthz(_: web.Request) -> web.Response:
        return model_response(Health(status="ok", checks=applying))

    async def readyz(_: web.Request) -> web.Response:
        return model_response(Health(status="unavailable", checks=applying), status=503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = await serve_api(app, settings=settings, host=host, port=port)
    try:
        yield
    finally:
        await runner.cleanup()


async def run_main(settings: Settings, *, announce=print) -> int:
    """`runledger run`: ingest (a live cluster, else a replay source) and serve the API."""
    database = await resolve_database(settings)
    async with answering_health_checks(settings, host=settings.api_host, port=settings.api_port):
        await migrate_database(database.dsn)
    stop = StopSignal()
    stop.install()
    async with open_pool(settings, database.dsn) as pool:
        app = create_app(settings=settings, pool=pool)
        runner = await serve_api(app, settings=settings, host=settings.api_host, port=settings.api_port)
        base = f"http://{settings.api_host}:{settings.api_port}"
        announce(f"runledger: data in {database.description}")
        # What start-up allocated (modules, settings, the app) lives as long as the process: out of
        # the collector's sight, full collections under a stream of events only scan what changes.
        gc.collect()
        gc.freeze()
        try:
            if cluster.cluster_configured(settings):
                announce(f"runledger: API on {base}; watching the cluster")
                return await run_cluster_agent(settings, pool=pool, app=app, stop=stop)
            announce(f"runledger: API on {base}  (Ctrl-C to stop)")
            announce(f"  curl -s '{base}/api/v1/runs?limit=5'")
            announce(f"  curl -s '{base}/api/v1/runs?phase=Failed'")
            return await run_replay_source(settings, pool=pool, app=app, stop=stop, announce=announce)
        finally:
            await runner.cleanup()


async def run_replay_source(
    settings: Settings, *, pool: asyncpg.Pool, app: web.Application, stop: StopSignal, announce=print
) -> int:
    paths = settings.replay_paths or [bundled_recording()]
    announce(f"runledger: ingesting {', '.join(str(p) for p in paths)} (replay source: no cluster configured)")
    async with contextlib.AsyncExitStack() as stack:
        if not settings.replay_paths and settings.artifacts_index and not settings.artifacts_endpoint_map:
            settings = await stack.enter_async_context(demo_artifact_store(settings, paths, announce=announce))
        node_status = await stack.enter_async_context(argo_node_status(settings))
        # The replay source is finite, so counting its runs for the summary is bounded.
        ingestor = Ingestor(pool=pool, settings=settings, track_runs=True, node_status=node_status)
        ingestor.start()
        indexer = start_indexer(settings, pool=pool)
        telemetry = app[prometheus.TELEMETRY]
        telemetry.sources["ingest"] = lambda: ingest_metrics(ingestor)
        if indexer is not None:
            telemetry.sources["indexer"] = lambda: indexer_metrics(indexer)
        source_done = asyncio.Event()

        async def source_check() -> tuple[bool, str]:
            return source_done.is_set(), "ingested" if source_done.is_set() else "initial ingest in progress"

        app[READINESS_CHECKS]["source"] = source_check
        errors = ReplayErrors()
        source = asyncio.create_task(replay_files(ingestor, paths, errors), name="replay-source")
        stopper = asyncio.create_task(stop.event.wait(), name="stop-signal")
        supervisor = asyncio.create_task(
            indexer.supervise() if indexer else stop.event.wait(), name="artifact-indexer-supervisor"
        )
        try:
            done, _ = await asyncio.wait({source, stopper, supervisor}, return_when=asyncio.FIRST_COMPLETED)
            if source in done:
                source.result()  # a crashed source stops the service loudly
                await ingestor.drain()
                source_done.set()
                errors.log_summary()
                summary = ingestor.stats.summary()
                announce(
                    f"runledger: replay done: {summary['events']} events, {summary['runs']} runs, "
                    f"{summary['steps']} steps, {summary['errors'] + len(errors)} errors; serving until stopped"
                )
                done, _ = await asyncio.wait({stopper, supervisor}, return_when=asyncio.FIRST_COMPLETED)
            if supervisor in done:
                supervisor.result()
        finally:
            for task in (source, stopper, supervisor):
                task.cancel()
            await asyncio.gather(source, stopper, supervisor, return_exceptions=True)
            await drain_and_stop(ingestor, grace=settings.ingest_shutdown_grace_seconds)
            if indexer is not None:
                await indexer.stop()
    return 0


def start_indexer(settings: Settings, *, pool: asyncpg.Pool) -> ArtifactIndexer | None:
    if not settings.artifacts_index:
        return None
    indexer = ArtifactIndexer(pool=pool, settings=settings)
    indexer.start()
    return indexer


@contextlib.asynccontextmanager
async def demo_artifact_store(settings: Settings, paths: list[Path], *, announce=print) -> AsyncIterator[Settings]:
    """Serve the objects the demo recording names from moto, and settings that lead the indexer there."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        announce("runledger: artifacts are not indexed in the demo: moto is not installed (pip install 'runledger[demo]')")
        yield settings.model_copy(update={"artifacts_index": False})
        return
    errors = ReplayErrors()
    registry = RepositoryRegistry(default=settings.artifacts_repository, named=settings.artifacts_repositories)
    events = [event for path in paths for event in read_events(path, errors)]
    objects, endpoints = demo_objects(events, repositories=registry)
    async with embedded_s3(objects) as url:
        announce(f"runledger: demo S3 (moto) on {url} holding {len(objects)} objects the recording refers to")
        yield settings.model_copy(
            update={
                "artifacts_endpoint_map": {endpoint: url for endpoint in endpoints},
                "artifacts_access_key_id": SecretStr(DEMO_ACCESS_KEY),
                "artifacts_secret_access_key": SecretStr(DEMO_SECRET_KEY),
            }
        )


async def run_cluster_agent(settings: Settings, *, pool: asyncpg.Pool, app: web.Application, stop: StopSignal) -> int:
    """Watch the cluster while leading (always, without leader election) until stopped.

    Losing the lease cancels the writers at once (an open transaction rolls back) and drops what was
    queued: the next leader lists or resumes from the last checkpoint, and ingest is idempotent.
    """
    async with contextlib.AsyncExitStack() as stack:
        return await _watch_while_leading(settings, pool=pool, app=app, stop=stop, stack=stack)


async def _watch_while_leading(
    settings: Settings, *, pool: asyncpg.Pool, app: web.Application, stop: StopSignal, stack: contextlib.AsyncExitStack
) -> int:
    api = await cluster.connect(settings)
    elector = (
        LeaderElector(
            api=api,
            settings=LeaseSettings(
                name=settings.leader_lease_name,
                namespace=settings.leader_lease_namespace,
                identity=settings.leader_identity or f"{socket.gethostname()}-{os.getpid()}",
                lease_seconds=settings.leader_lease_seconds,
                renew_deadline=settings.leader_renew_deadline_seconds,
                retry_period=settings.leader_retry_seconds,
            ),
        )
        if settings.leader_election
        else None
    )
    current: dict[str, Any] = {}

    async def ready() -> tuple[bool, str]:
        if elector is not None and not elector.is_leader:
            return True, "standby: another replica leads"
        agent, ingestor = current.get("agent"), current.get("ingestor")
        if agent is None or not agent.synced():
            return False, "initial list in progress"
        if not ingestor.database_ok:
            return False, "database unreachable"
        return True, "synced"

    stale_after = settings.watch_inactivity_seconds + 2 * settings.watch_backoff_max_seconds + 60

    async def alive() -> tuple[bool, str]:
        agent = current.get("agent")
        if agent is None:
            return True, "not watching"
        now = time.monotonic()
        stale = [s.name for s in agent.streams if now - s.state.last_contact > stale_after]
        return not stale, f"no contact: {', '.join(stale)}" if stale else f"{len(agent.streams)} stream(s) live"

    app[READINESS_CHECKS]["agent"] = ready
    app[LIVENESS_CHECKS]["streams"] = alive
    telemetry = app[prometheus.TELEMETRY]
    # Read at scrape time: whichever ingestor, agent and indexer lead now (none while standing by).
    telemetry.sources["ingest"] = lambda: ingest_metrics(current["ingestor"]) if "ingestor" in current else ()
    telemetry.sources["watch"] = lambda: watch_metrics(current["agent"].streams) if "agent" in current else ()
    telemetry.sources["indexer"] = lambda: indexer_metrics(current["indexer"]) if current.get("indexer") else ()
    if elector is not None:
        telemetry.leader = lambda: elector.is_leader
    checkpoints = PgCheckpointStore(pool)
    node_status = await stack.enter_async_context(argo_node_status(settings))
    # One registry for the process: what was read from the cluster survives a change of leader.
    registry = RepositoryRegistry(default=settings.artifacts_repository, named=settings.artifacts_repositories)
    repositories = ClusterRepositories(api=api, registry=registry, settings=settings)
    stopper = asyncio.create_task(stop.event.wait(), name="stop-signal")
    campaign: asyncio.Task | None = None
    try:
        while True:
            if elector is not None:
                elector.lost.clear()
                elector.acquired.clear()
                campaign = asyncio.create_task(elector.run(), name="leader-election")
                acquired = asyncio.create_task(elector.acquired.wait(), name="leader-acquired")
                await asyncio.wait({acquired, stopper}, return_when=asyncio.FIRST_COMPLETED)
                acquired.cancel()
                if stopper.done():
                    return 0
            await repositories.load_controller_default()
            for namespace in settings.namespaces:
                repositories.seen_namespace(namespace)
            ingestor = Ingestor(pool=pool, settings=settings, repositories=registry, node_status=node_status)
            ingestor.start()
            indexer = start_indexer(settings, pool=pool)
            agent = cluster.ClusterAgent(
                cluster.build_streams(
                    api=api, ingestor=ingestor, settings=settings, checkpoints=checkpoints, repositories=repositories
                )
            )
            current.update(agent=agent, ingestor=ingestor, indexer=indexer)
            watching = asyncio.create_task(agent.run(), name="cluster-agent")
            indexing = asyncio.create_task(
                indexer.supervise() if indexer else asyncio.Event().wait(), name="artifact-indexer-supervisor"
            )
            waits = {watching, indexing, stopper} | ({campaign} if campaign is not None else set())
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in (watching, indexing):
                task.cancel()
            await asyncio.gather(watching, indexing, return_exceptions=True)
            if stopper in done:
                if await drain_and_stop(ingestor, grace=settings.ingest_shutdown_grace_seconds):
                    await agent.save_final_checkpoints()
                if indexer is not None:
                    await indexer.stop()
                return 0
            if indexer is not None:
                await indexer.stop()
            if watching in done or indexing in done:
                await ingestor.stop()
                # Re-raises why the agent or the indexer died: the process exits non-zero.
                (watching if watching in done else indexing).result()
            log.warning("leadership lost: stopped watching and writing")
            await ingestor.stop()
            current.clear()
    finally:
        for task in (stopper, campaign):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if elector is not None:
            await elector.release()
        await repositories.close()
        await api.close()


async def run_api(settings: Settings, *, host: str, port: int, announce=print) -> int:
    """`runledger api`: the read API alone (a read replica)."""
    database = await resolve_database(settings)
    async with answering_health_checks(settings, host=host, port=port):
        await migrate_database(database.dsn)
    stop = StopSignal()
    stop.install()
    async with open_pool(settings, database.dsn) as pool:
        runner = await serve_api(create_app(settings=settings, pool=pool), settings=settings, host=host, port=port)
        announce(f"runledger: read API on http://{host}:{port}, data in {database.description}")
        try:
            await stop.event.wait()
        finally:
            await runner.cleanup()
    return 0


async def run_replay(settings: Settings, paths: list[Path], *, announce=print) -> int:
    """`runledger replay FILE...`: ingest files, print counts. Non-zero only if something read was not stored.

    The replay ends when every state it read is written, however long that takes; only a stop signal
    cuts it short (reading stops, queued states get the shutdown grace).
    """
    missing = [p for p in paths if not p.exists()]
    if missing:
        announce(f"runledger replay: no such file: {', '.join(map(str, missing))}")
        return 2
    database = await resolve_database(settings)
    await migrate_database(database.dsn)
    stop = StopSignal()
    async with open_pool(settings, database.dsn) as pool, argo_node_status(settings) as node_status:
        ingestor = Ingestor(pool=pool, settings=settings, track_runs=True, node_status=node_status)
        ingestor.start()
        errors = ReplayErrors()
        stop.install()
        try:
            completed = await _until_stopped(replay_to_the_end(ingestor, paths, errors), stop=stop)
        finally:
            stop.remove()
            drained = await drain_and_stop(ingestor, grace=settings.ingest_shutdown_grace_seconds)
    errors.log_summary()
    kinds = errors.by_kind + ingestor.stats.errors
    summary = ingestor.stats.summary() | {"errors": kinds.total()}
    summary |= {f"errors.{kind}": n for kind, n in sorted(kinds.items())}
    announce(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0 if completed and drained else 1


async def replay_to_the_end(ingestor: Ingestor, paths: list[Path], errors: ReplayErrors) -> None:
    await replay_files(ingestor, paths, errors)
    await ingestor.drain_all()


async def _until_stopped(work, *, stop: StopSignal) -> bool:
    """Run `work` unless a stop signal comes first; True if it completed (its exception propagates)."""
    task = asyncio.create_task(work, name="replay")
    stopper = asyncio.create_task(stop.event.wait(), name="stop-signal")
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
            return True
        log.warning("replay: stopped before the end of its input")
        return False
    finally:
        for t in (task, stopper):
            t.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)


async def run_migrate(settings: Settings, *, announce=print) -> int:
    database = await resolve_database(settings)
    applied = await migrate_database(database.dsn)
    announce(f"runledger migrate: {len(applied)} migration(s) applied to {database.description}")
    return 0


@dataclass(frozen=True)
class ImportRequest:
    kind: str  # "argo-archive" or "kfp"
    dsn: str
    namespace: str | None = None
    since: datetime | None = None
    page_size: int = 500


async def run_import(settings: Settings, request: ImportRequest, *, announce=print, progress=None) -> int:
    """`runledger import KIND --dsn URL`: import a finite source, resumable; print counts.

    0 when the source was read to its end (bad rows are counted, not fatal); 1 when the source failed
    or a stop signal came first (run the same command again to resume); 2 for a bad URL.
    """
    try:
        source_db = SourceDatabase(request.dsn, max_connections=3)
    except ValueError as exc:
        announce(f"runledger import: {exc}")
        return 2
    database = await resolve_database(settings)
    await migrate_database(database.dsn)
    stop = StopSignal()
    node_url = request.dsn if request.kind == "argo-archive" else None
    async with open_pool(settings, database.dsn) as pool, source_db, argo_node_status(settings, url=node_url) as nodes:
        source = (
            ArgoArchive(source=source_db, namespace=request.namespace, since=request.since)
            if request.kind == "argo-archive"
            else KfpRuns(source=source_db)
        )
        ingestor = Ingestor(pool=pool, settings=settings, node_status=nodes)
        ingestor.start()
        reports: list[ImportReport] = []

        async def importing() -> None:
            reports.append(
                await run_import_source(
                    source, ingestor=ingestor, pool=pool, page_size=request.page_size, progress=progress
                )
            )

        stop.install()
        try:
            completed = await _until_stopped(importing(), stop=stop)
        except SourceError as exc:
            announce(f"runledger import: {exc}")
            announce("runledger import: stopped; what was imported is kept: run the same command again to resume")
            return 1
        finally:
            stop.remove()
            await drain_and_stop(ingestor, grace=settings.ingest_shutdown_grace_seconds)
    if not completed:
        announce("runledger import: stopped; what was imported is kept: run the same command again to resume")
        return 1
    announce(reports[0].line(ingestor.stats.errors))
    return 0
