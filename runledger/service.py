"""Composition: the database, the ingest path and the API, started and stopped in order.

Start: resolve the database (a DSN, or the embedded server), migrate, open one pool, serve the API,
then enter the long-running parts (runledger.core.lifecycle) on an ``AsyncExitStack``. Stop (first
SIGINT/SIGTERM): the stack unwinds in reverse — intake stops, queued states get
RUNLEDGER_INGEST_SHUTDOWN_GRACE_SECONDS to reach Postgres, the writers stop, checkpoints are saved,
the lease is released, the API and then the pool close. A second signal exits at once. The owner
waits with ``lifecycle.first``, so a part whose task dies stops the service loudly, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web

from runledger.agent import cluster_watch
from runledger.agent.argo_archive import ArgoArchive
from runledger.agent.argo_database import NodeStatus, OffloadTable
from runledger.agent.repository_configmaps import ClusterRepositories
from runledger.agent.exposition import ingest_metrics, watch_metrics
from runledger.agent.importing import ImportReport
from runledger.agent.importing import run_import as run_import_source
from runledger.agent.ingest import Ingestor
from runledger.agent.kfp_database import KfpRuns
from runledger.agent.leader import LeaderElector, LeaseSettings
from runledger.agent.replay import ReadPosition, ReplayErrors, read_events, unreadable
from runledger.agent.source_databases import SourceDatabase, SourceError, redacted
from runledger.api import prometheus, serving
from runledger.api.app import create_app
from runledger.api.feed_routes import HUB
from runledger.api.app_keys import LIVENESS_CHECKS, OBJECT_STORE, READINESS_CHECKS, READS
from runledger.api.prometheus import Source, indexer_metrics, openlineage_metrics
from runledger.api.responses import model_response
from runledger.core.kube_client import client
from runledger.core.lifecycle import Service, first
from runledger.core.progress import Progress
from runledger.core.artifact_locations import RepositoryRegistry
from runledger.core.settings import ArgoSettings, Settings
from runledger.core.shards import Shard
from runledger.demo.artifact_store import bundled_recording, demo_artifact_store, wants_demo_artifact_store
from runledger.indexer.s3 import ObjectStore
from runledger.indexer.worker import ArtifactIndexer
from runledger.openlineage.sender import LineageSender
from runledger.openlineage.transports import transport_of
from runledger.store import connection as db
from runledger.store import embedded, migrations, openlineage_outbox
from runledger.store.checkpoints import PgCheckpointStore
from runledger.store.read_models import Health

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A failure whose message says what is wrong and what to do; the command exits with `code`
    (2: what it was given is wrong, 1: it failed at run time)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Database:
    dsn: str
    description: str  # where the data lives, for people


async def resolve_database(settings: Settings) -> Database:
    for url in settings.database.replicas:
        check_database_url(url, setting="RUNLEDGER_DATABASE_REPLICA_URLS")
    if settings.database.replicas and not settings.database.url:
        raise CommandError(
            "RUNLEDGER_DATABASE_REPLICA_URLS needs RUNLEDGER_DATABASE_URL: set it to the primary the standbys "
            "stream from (writes, migrations and the event feed stay there)",
            code=2,
        )
    if settings.database.url:
        check_database_url(settings.database.url)
        return Database(settings.database.url, "the Postgres at RUNLEDGER_DATABASE_URL")
    dsn = await embedded.start_embedded(settings.database.embedded_pgdata)
    return Database(dsn, f"an embedded Postgres in {settings.database.embedded_pgdata}")


def check_database_url(url: str, *, setting: str = "RUNLEDGER_DATABASE_URL") -> None:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
        ok = parts.scheme in ("postgresql", "postgres")
    except ValueError:
        ok = False
    if not ok:
        what = ("or unset it for the embedded Postgres" if setting == "RUNLEDGER_DATABASE_URL"
                else "one per hot standby, separated by commas")  # fmt: skip
        raise CommandError(
            f"{setting} {redacted(url)} is not a Postgres URL: set it to postgresql://USER:PASSWORD@HOST:5432/DATABASE, "
            + what,
            code=2,
        )


def _unreachable(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer"
    return str(exc) or type(exc).__name__


async def migrate_database(dsn: str, *, settings: Settings) -> list[migrations.Migration]:
    # The first contact with the database for every command: a wrong URL ends here, in one line.
    try:
        conn = await db.connect(dsn)
    except (OSError, asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError) as exc:
        raise CommandError(
            f"cannot connect to the database at {redacted(dsn)} ({_unreachable(exc)}): "
            "check RUNLEDGER_DATABASE_URL and that Postgres is up there",
            code=1,
        ) from exc
    try:
        progress = Progress(what="migrate", unit="migrations", interval=settings.log.progress_interval_seconds)
        return await migrations.migrate(conn, progress=progress)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def open_pool(settings: Settings, dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def argo_node_status(argo: ArgoSettings, *, url: str | None = None) -> AsyncIterator[NodeStatus | None]:
    """Offloaded node status from Argo's database (`url`, or RUNLEDGER_ARGO_DATABASE_URL); None when unset."""
    url = url or argo.database_url
    if not url:
        yield None
        return
    # Connections are opened on first use: Argo's database being down must not stop the agent.
    source = SourceDatabase(url, max_connections=2)
    await source.open()
    try:
        table = OffloadTable(
            source=source, table=argo.database_offload_table, cluster=argo.database_cluster_name
        )
        yield NodeStatus(
            table=table, retry_initial=0.2, retry_max=10.0, wait_seconds=argo.database_offload_wait_seconds
        )
    finally:
        await source.close()


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


@contextlib.asynccontextmanager
async def serving_api(app: web.Application, *, settings: Settings, host: str, port: int) -> AsyncIterator[None]:
    try:
        runner = await serving.serve(app, settings=settings, host=host, port=port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            what = f"port {port} on {host} is in use: stop what listens there, or set RUNLEDGER_API_PORT (or --port)"
        else:
            what = f"cannot listen on {host}:{port} ({exc.strerror or exc}): check RUNLEDGER_API_HOST (or --host)"
        raise CommandError(what, code=1) from exc
    try:
        yield
    finally:
        await runner.cleanup()


def api_parts(app: web.Application) -> list[Service]:
    """The long-running parts the served app runs itself (its read router, its event feed), for its
    owner to watch."""
    return [app[key] for key in (READS, HUB) if key in app]


@contextlib.contextmanager
def reporting(app: web.Application, **sources: Source) -> Iterator[None]:
    """Add metric sources to /metrics for as long as their parts run."""
    telemetry = app[prometheus.TELEMETRY]
    telemetry.sources.update(sources)
    try:
        yield
    finally:
        for name in sources:
            telemetry.sources.pop(name, None)


async def enter_indexer(stack: contextlib.AsyncExitStack, settings: Settings, *, pool: asyncpg.Pool) -> list[Service]:
    """The artifact indexer, started on `stack` when artifacts are indexed: [indexer] or []."""
    if not settings.artifacts.index:
        return []
    return [await stack.enter_async_context(ArtifactIndexer(pool=pool, settings=settings))]


async def enter_lineage_sender(
    stack: contextlib.AsyncExitStack, settings: Settings, *, pool: asyncpg.Pool
) -> list[Service]:
    """The OpenLineage sender, started on `stack` when export is configured: [sender] or []."""
    if not settings.openlineage.export:
        return []
    check_lineage_settings(settings)
    return [await stack.enter_async_context(LineageSender(pool=pool, transport=transport_of(settings.openlineage)))]


def check_lineage_settings(settings: Settings) -> None:
    if settings.openlineage.url is not None and settings.openlineage.file is not None:
        raise CommandError(
            "RUNLEDGER_OPENLINEAGE_URL and RUNLEDGER_OPENLINEAGE_FILE are both set: set one of them", code=2
        )
    url = urlsplit(settings.openlineage.url or "http://x")
    if url.scheme not in ("http", "https") or not url.netloc:
        raise CommandError(
            f"RUNLEDGER_OPENLINEAGE_URL {settings.openlineage.url!r} is not an http(s) URL: set it to the "
            "endpoint's, e.g. http://marquez:5000/api/v1/lineage",
            code=2,
        )


def lineage_reports(senders: list[Service]) -> dict[str, Source]:
    return {"openlineage": functools.partial(openlineage_metrics, s) for s in senders}


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
    async with serving_api(app, settings=settings, host=host, port=port):
        yield


async def run_main(settings: Settings, *, announce=print) -> int:
    """`runledger run`: ingest (a live cluster, else a replay source) and serve the API."""
    if settings.replay.paths and not cluster_watch.cluster_configured(settings.cluster):
        check_replay_files(settings.replay.paths)
    database = await resolve_database(settings)
    async with answering_health_checks(settings, host=settings.api.host, port=settings.api.port):
        await migrate_database(database.dsn, settings=settings)
    stop = StopSignal()
    stop.install()
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(settings, database.dsn))
        app = create_app(settings=settings, pool=pool)
        # Not ready until the source has made its initial pass: registered before the port opens, so
        # a probe never sees 200 while the source is still being set up (then 503 once it is).
        app[READINESS_CHECKS]["source"] = source_starting
        await stack.enter_async_context(
            serving_api(app, settings=settings, host=settings.api.host, port=settings.api.port)
        )
        base = f"http://{settings.api.host}:{settings.api.port}"
        # The address a person opens first, so it is the first line: before where the data lives and the API.
        announce(f"runledger: web UI on {base}/ui/  (Ctrl-C to stop)")
        announce(f"runledger: data in {database.description}")
        # What start-up allocated (modules, settings, the app) lives as long as the process: out of
        # the collector's sight, full collections under a stream of events only scan what changes.
        gc.collect()
        gc.freeze()
        if cluster_watch.cluster_configured(settings.cluster):
            shard = f" (shard {settings.cluster.shard_spec}: its namespaces only)" if settings.cluster.shard else ""
            announce(f"runledger: API on {base}; watching the cluster{shard}")
            return await run_cluster_agent(settings, pool=pool, app=app, stop=stop)
        announce(f"runledger: API on {base}")
        announce(f"  curl -s '{base}/api/v1/runs?limit=5'")
        announce(f"  curl -s '{base}/api/v1/runs?phase=Failed'")
        return await run_replay_source(settings, pool=pool, app=app, stop=stop, announce=announce)


async def source_starting() -> tuple[bool, str]:
    return False, "starting"


async def run_replay_source(
    settings: Settings, *, pool: asyncpg.Pool, app: web.Application, stop: StopSignal, announce=print
) -> int:
    """Replay files (the bundled recording by default) into the database, then serve until stopped."""
    paths = settings.replay.paths or [bundled_recording()]
    announce(f"runledger: ingesting {', '.join(str(p) for p in paths)} (replay source: no cluster configured)")
    async with contextlib.AsyncExitStack() as stack:
        if wants_demo_artifact_store(settings):
            settings = await stack.enter_async_context(demo_artifact_store(settings, paths, announce=announce))
            await app[OBJECT_STORE].replace(ObjectStore(artifacts=settings.artifacts))  # logs and previews read it too
        node_status = await stack.enter_async_context(argo_node_status(settings.argo))
        # The replay source is finite, so counting its runs for the summary is bounded.
        ingestor = Ingestor(pool=pool, settings=settings, track_runs=True, node_status=node_status)
        await stack.enter_async_context(ingestor)
        indexers = await enter_indexer(stack, settings, pool=pool)
        senders = await enter_lineage_sender(stack, settings, pool=pool)
        stack.enter_context(reporting(app, ingest=functools.partial(ingest_metrics, ingestor),
                                      **{"indexer": functools.partial(indexer_metrics, i) for i in indexers},
                                      **lineage_reports(senders)))  # fmt: skip
        source_done = asyncio.Event()

        async def source_check() -> tuple[bool, str]:
            return source_done.is_set(), "ingested" if source_done.is_set() else "initial ingest in progress"

        app[READINESS_CHECKS]["source"] = source_check
        parts = [ingestor, *indexers, *senders, *api_parts(app)]
        errors = ReplayErrors()
        if await first(parts=parts, stop=stop.event.wait(), source=replay_to_the_end(ingestor, paths, errors)) == "source":
            source_done.set()
            errors.log_summary()
            summary = ingestor.stats.summary()
            announce(
                f"runledger: replay done: {summary['events']} events, {summary['runs']} runs, "
                f"{summary['steps']} steps, {summary['errors'] + len(errors)} errors; serving until stopped"
            )
            await first(parts=parts, stop=stop.event.wait())
    return 0


# --- the cluster agent --------------------------------------------------------------------------


class LeadershipLost(Exception):
    """The lease was not renewed in time: this replica's term is over."""


@dataclass(frozen=True)
class Term:
    """What runs while this replica leads."""

    ingestor: Ingestor
    agent: cluster_watch.ClusterAgent


class Probes:
    """/readyz and /healthz of the cluster agent: about whichever term leads now (none while standing by)."""

    def __init__(self, *, settings: Settings, elector: LeaderElector | None) -> None:
        self.term: Term | None = None
        self._elector = elector
        self._stale_after = settings.cluster.watch_inactivity_seconds + 2 * settings.cluster.watch_backoff_max_seconds + 60

    def install(self, app: web.Application) -> None:
        app[READINESS_CHECKS]["source"] = self.ready
        app[LIVENESS_CHECKS]["streams"] = self.alive
        if self._elector is not None:
            app[prometheus.TELEMETRY].leader = self._elector.leading

    @contextlib.contextmanager
    def leading(self, term: Term) -> Iterator[None]:
        self.term = term
        try:
            yield
        finally:
            self.term = None

    async def ready(self) -> tuple[bool, str]:
        if self._elector is not None and not self._elector.is_leader:
            return True, "standby: another replica leads"
        if self.term is None or not self.term.agent.synced():
            return False, "initial list in progress"
        if not self.term.ingestor.database_ok:
            return False, "database unreachable"
        return True, "synced"

    async def alive(self) -> tuple[bool, str]:
        if self.term is None:
            return True, "not watching"
        streams, now = self.term.agent.streams, time.monotonic()
        stale = [s.name for s in streams if now - s.state.last_contact > self._stale_after]
        return not stale, f"no contact: {', '.join(stale)}" if stale else f"{len(streams)} stream(s) live"


@dataclass(frozen=True)
class ClusterSession:
    """What outlives a change of leader: the API client, the repositories read from the cluster."""

    api: client.ApiClient
    # One registry for the process: what was read from the cluster survives a change of leader.
    registry: RepositoryRegistry
    repositories: ClusterRepositories
    checkpoints: PgCheckpointStore
    node_status: NodeStatus | None


async def run_cluster_agent(settings: Settings, *, pool: asyncpg.Pool, app: web.Application, stop: StopSignal) -> int:
    """Watch the cluster while leading (always, without leader election) until stopped.

    Losing the lease cancels the writers at once (an open transaction rolls back) and drops what was
    queued: the next leader lists or resumes from the last checkpoint, and ingest is idempotent.
    """
    async with contextlib.AsyncExitStack() as stack:
        session = await enter_cluster(stack, settings, pool=pool)
        elector = await enter_elector(stack, settings, api=session.api)
        probes = Probes(settings=settings, elector=elector)
        probes.install(app)
        parts = [*api_parts(app), *([elector] if elector is not None else [])]
        while await wait_to_lead(elector, stop=stop, parts=parts):
            try:
                await lead(settings, pool=pool, app=app, session=session, probes=probes, stop=stop,
                           lost=elector.lost if elector is not None else None, parts=parts)  # fmt: skip
                return 0
            except LeadershipLost:
                log.warning("leadership lost: stopped watching and writing")
    return 0


async def enter_cluster(
    stack: contextlib.AsyncExitStack, settings: Settings, *, pool: asyncpg.Pool
) -> ClusterSession:
    """Connect to the API server; `stack` closes what was opened."""
    api = await cluster_watch.connect(settings.cluster)
    stack.push_async_callback(api.close)
    registry = RepositoryRegistry(default=settings.artifacts.repository, named=settings.artifacts.repositories)
    repositories = ClusterRepositories(api=api, registry=registry, artifacts=settings.artifacts)
    stack.push_async_callback(repositories.close)
    node_status = await stack.enter_async_context(argo_node_status(settings.argo))
    return ClusterSession(api=api, registry=registry, repositories=repositories, checkpoints=PgCheckpointStore(pool),
                          node_status=node_status)  # fmt: skip


async def enter_elector(
    stack: contextlib.AsyncExitStack, settings: Settings, *, api: client.ApiClient
) -> LeaderElector | None:
    """The leader elector, campaigning on `stack` (which releases the lease); None without election."""
    if not settings.leader.election:
        return None
    lease = LeaseSettings(
        name=shard_lease_name(settings.leader.lease_name, settings.cluster.shard_spec),
        namespace=settings.leader.lease_namespace,
        identity=settings.leader.identity or f"{socket.gethostname()}-{os.getpid()}",
        lease_seconds=settings.leader.lease_seconds,
        renew_deadline=settings.leader.renew_deadline_seconds,
        retry_period=settings.leader.retry_seconds,
    )
    return await stack.enter_async_context(LeaderElector(api=api, settings=lease))


def shard_lease_name(name: str, shard: Shard | None) -> str:
    """Shards elect apart: each has its own leader, and a resized set (a new count) new Leases, so an
    agent of the old set never stands by behind one of the new."""
    return f"{name}-{shard.index}-of-{shard.count}" if shard else name


async def wait_to_lead(elector: LeaderElector | None, *, stop: StopSignal, parts: list[Service]) -> bool:
    """True once this replica leads (at once without leader election); False if stopped first."""
    if elector is None:
        return not stop.event.is_set()
    return await first(parts=parts, stop=stop.event.wait(), leading=elector.acquired.wait()) == "leading"


async def lead(
    settings: Settings,
    *,
    pool: asyncpg.Pool,
    app: web.Application,
    session: ClusterSession,
    probes: Probes,
    stop: StopSignal,
    lost: asyncio.Event | None,
    parts: list[Service],
) -> None:
    """One term: watch and write until stopped (then drain, checkpoint, return); raises LeadershipLost
    when the lease is lost, or why a part died."""
    await session.repositories.load_controller_default()
    for namespace in settings.cluster.namespaces:
        session.repositories.seen_namespace(namespace)
    ingestor = Ingestor(pool=pool, settings=settings, repositories=session.registry, node_status=session.node_status)
    streams = cluster_watch.build_streams(api=session.api, ingestor=ingestor, cluster=settings.cluster,
                                    checkpoints=session.checkpoints, repositories=session.repositories)  # fmt: skip
    agent = cluster_watch.ClusterAgent(streams)
    async with contextlib.AsyncExitStack() as term:
        # Runs last: once the writers stopped, with everything received written (or not).
        term.push_async_callback(save_final_checkpoints, agent=agent, ingestor=ingestor)
        await term.enter_async_context(ingestor)
        indexers = await enter_indexer(term, settings, pool=pool)
        # Only the leader sends (and a round holds an advisory lock besides: never two senders at once).
        senders = await enter_lineage_sender(term, settings, pool=pool)
        await term.enter_async_context(agent)
        term.enter_context(reporting(app, ingest=functools.partial(ingest_metrics, ingestor),
                                     watch=functools.partial(watch_metrics, agent.streams),
                                     **{"indexer": functools.partial(indexer_metrics, i) for i in indexers},
                                     **lineage_reports(senders)))  # fmt: skip
        term.enter_context(probes.leading(Term(ingestor=ingestor, agent=agent)))
        waits = {"stop": stop.event.wait()} | ({"lost": lost.wait()} if lost is not None else {})
        if await first(parts=[ingestor, agent, *indexers, *senders, *parts], **waits) == "lost":
            raise LeadershipLost


async def save_final_checkpoints(*, agent: cluster_watch.ClusterAgent, ingestor: Ingestor) -> None:
    """After a graceful stop that wrote everything: resume from the newest event received."""
    if ingestor.drained:
        await agent.save_final_checkpoints()


async def run_api(settings: Settings, *, host: str, port: int, announce=print) -> int:
    """`runledger api`: the read API alone (one of several API replicas), reading from the standbys of
    RUNLEDGER_DATABASE_REPLICA_URLS when set; the primary is still needed to migrate at start-up."""
    database = await resolve_database(settings)
    async with answering_health_checks(settings, host=host, port=port):
        await migrate_database(database.dsn, settings=settings)
    stop = StopSignal()
    stop.install()
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(settings, database.dsn))
        app = create_app(settings=settings, pool=pool)
        await stack.enter_async_context(serving_api(app, settings=settings, host=host, port=port))
        announce(f"runledger: read API on http://{host}:{port}, data in {database.description}")
        await first(parts=api_parts(app), stop=stop.event.wait())
    return 0


async def run_replay(settings: Settings, paths: list[Path], *, announce=print) -> int:
    """`runledger replay FILE...`: ingest files, print counts. Non-zero only if something read was not stored.

    The replay ends when every state it read is written, however long that takes; only a stop signal
    cuts it short (reading stops, queued states get the shutdown grace).
    """
    check_replay_files(paths)
    database = await resolve_database(settings)
    await migrate_database(database.dsn, settings=settings)
    stop = StopSignal()
    errors = ReplayErrors()
    async with open_pool(settings, database.dsn) as pool, argo_node_status(settings.argo) as node_status:
        ingestor = Ingestor(pool=pool, settings=settings, track_runs=True, node_status=node_status)
        stop.install()
        try:
            progress = Progress(what="replay", unit="bytes", interval=settings.log.progress_interval_seconds)
            async with ingestor:
                with progress:
                    replay = replay_to_the_end(ingestor, paths, errors, progress=progress)
                    completed = await first(stop=stop.event.wait(), replay=replay)
        finally:
            stop.remove()
    if completed == "stop":
        log.warning("replay: stopped before the end of its input")
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


def check_replay_files(paths: list[Path]) -> None:
    """A name that does not exist is a mistake; an unreadable file among readable ones is bad input,
    counted and skipped like a bad line. With nothing readable there is nothing to replay."""
    problems = {path: unreadable(path) for path in paths}
    missing = [problem for path, problem in problems.items() if problem and not path.exists()]
    if missing or all(problems.values()):
        raise CommandError("; ".join(missing or problems.values()), code=2)


async def run_migrate(settings: Settings, *, announce=print) -> int:
    database = await resolve_database(settings)
    applied = await migrate_database(database.dsn, settings=settings)
    announce(f"runledger migrate: {len(applied)} migration(s) applied to {database.description}")
    return 0


@dataclass(frozen=True)
class ImportRequest:
    kind: str  # "argo-archive" or "kfp"
    dsn: str
    namespace: str | None = None
    since: datetime | None = None
    page_size: int = 500


async def run_import(settings: Settings, request: ImportRequest, *, announce=print) -> int:
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
    await migrate_database(database.dsn, settings=settings)
    stop = StopSignal()
    node_url = request.dsn if request.kind == "argo-archive" else None
    async with open_pool(settings, database.dsn) as pool, source_db, argo_node_status(settings.argo, url=node_url) as nodes:
        source = (
            ArgoArchive(source=source_db, namespace=request.namespace, since=request.since)
            if request.kind == "argo-archive"
            else KfpRuns(source=source_db)
        )
        ingestor = Ingestor(pool=pool, settings=settings, node_status=nodes)
        reports: list[ImportReport] = []

        async def importing() -> None:
            progress = Progress(what=f"import {request.kind}", unit="rows", interval=settings.log.progress_interval_seconds)
            with progress:
                reports.append(await run_import_source(source, ingestor=ingestor, pool=pool, page_size=request.page_size,
                                                       writers=settings.ingest.workers, progress=progress))  # fmt: skip

        stop.install()
        try:
            async with ingestor:
                completed = await first(stop=stop.event.wait(), source=importing())
        except SourceError as exc:
            # The import wrote and checkpointed what it had submitted before the source failed.
            announce(f"runledger import: {exc}")
            announce("runledger import: stopped; what was imported is kept: run the same command again to resume")
            return 1
        finally:
            stop.remove()
    if completed == "stop":
        announce("runledger import: stopped; what was imported is kept: run the same command again to resume")
        return 1
    announce(reports[0].line(ingestor.stats.errors))
    return 0


async def run_lineage_backfill(settings: Settings, *, since: datetime | None, announce=print) -> int:
    """`runledger openlineage backfill`: queue the stored history's events; those queued already are skipped."""
    database = await resolve_database(settings)
    await migrate_database(database.dsn, settings=settings)
    async with open_pool(settings, database.dsn) as pool, pool.acquire() as conn:
        added = await openlineage_outbox.backfill(conn, since=since)
        waiting = await openlineage_outbox.backlog(conn)
    where = "" if settings.openlineage.export else " (export is off: set RUNLEDGER_OPENLINEAGE_URL or _FILE to send them)"
    announce(f"runledger openlineage backfill: {added} event(s) queued, {waiting} waiting to be sent{where}")
    return 0
