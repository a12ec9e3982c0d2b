"""The server-side commands, each wired from its parts: `run`, `api`, `migrate`, `import`,
`openlineage backfill` (`replay` is in ``replaying``).

A long-running command resolves the database, migrates it (the API port answering the probes
alone meanwhile), then enters its parts on an ``AsyncExitStack`` — the pool, the API server, the
ingest path and what runs beside it — and waits with ``lifecycle.first``: a part that fails stops
the command loudly, at once; the first SIGINT/SIGTERM stops it gracefully, the stack unwinding in
reverse (intake stops, queued states get RUNLEDGER_INGEST_SHUTDOWN_GRACE_SECONDS to reach Postgres,
checkpoints are saved, the lease is released, the API and then the pool close); a second exits.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from runledger.agent import cluster_watch
from runledger.backfill.argo_archive import ArgoArchive
from runledger.backfill.importing import ImportReport, ImportSource
from runledger.backfill.importing import run_import as run_import_source
from runledger.backfill.kfp_database import KfpRuns
from runledger.agent.source_databases import SourceDatabase, SourceError
from runledger.api.app_keys import READINESS_CHECKS
from runledger.core.collector import settle_for_ingest
from runledger.core.lifecycle import first
from runledger.core.progress import Progress
from runledger.core.settings import Settings
from runledger.service.cluster_agent import run_cluster_agent
from runledger.service.database import (
    Database,
    migrate_database,
    open_pool,
    resolve_database,
)
from runledger.service.parts import (
    argo_node_status,
    build_app,
    build_ingestor,
    build_server,
)
from runledger.service.replaying import check_replay_files, run_replay_source
from runledger.service.api_server import probes_while_migrating
from runledger.service.stopping import StopSignal
from runledger.store import openlineage_outbox


async def migrated(settings: Settings, *, host: str, port: int) -> Database:
    """The database, migrated; meanwhile the API port answers the probes alone (alive, not ready)."""
    database = await resolve_database(settings.database)
    async with build_server(probes_while_migrating(), settings=settings, host=host, port=port):
        await migrate_database(database.dsn, log=settings.log)
    return database


async def run_main(settings: Settings, *, announce=print) -> int:
    """`runledger run`: ingest (a live cluster, else a replay source) and serve the API."""
    watching = cluster_watch.cluster_configured(settings.cluster)
    if settings.replay.paths and not watching:
        check_replay_files(settings.replay.paths)
    host, port = settings.api.host, settings.api.port
    database = await migrated(settings, host=host, port=port)
    stop = StopSignal()
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(stop.installed())
        pool = await stack.enter_async_context(open_pool(settings.database, database.dsn))
        app = build_app(settings=settings, pool=pool)
        # Not ready until the source has made its initial pass: registered before the port opens, so
        # a probe never sees 200 while the source is still being set up (then 503 once it is).
        app[READINESS_CHECKS]["source"] = source_starting
        server = await stack.enter_async_context(build_server(app, settings=settings, host=host, port=port))
        base = f"http://{host}:{port}"
        # The address a person opens first, so it is the first line: before where the data lives and the API.
        announce(f"runledger: web UI on {base}/ui/  (Ctrl-C to stop)")
        announce(f"runledger: data in {database.description}")
        settle_for_ingest()  # start-up is done (modules, settings, pool, app): it lives as long as the process
        if watching:
            shard = f" (shard {settings.cluster.shard_spec}: its namespaces only)" if settings.cluster.shard else ""
            announce(f"runledger: API on {base}; watching the cluster{shard}")
            return await run_cluster_agent(settings, pool=pool, app=app, stop=stop, parts=[server])
        announce(f"runledger: API on {base}")
        announce(f"  curl -s '{base}/api/v1/runs?limit=5'")
        announce(f"  curl -s '{base}/api/v1/runs?phase=Failed'")
        return await run_replay_source(settings, pool=pool, app=app, parts=[server], stop=stop, announce=announce)


async def source_starting() -> tuple[bool, str]:
    return False, "starting"


async def run_api(settings: Settings, *, host: str, port: int, announce=print) -> int:
    """`runledger api`: the read API alone (one of several API replicas), reading from the standbys of
    RUNLEDGER_DATABASE_REPLICA_URLS when set; the primary is still needed to migrate at start-up."""
    database = await migrated(settings, host=host, port=port)
    stop = StopSignal()
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(stop.installed())
        pool = await stack.enter_async_context(open_pool(settings.database, database.dsn))
        app = build_app(settings=settings, pool=pool)
        server = await stack.enter_async_context(build_server(app, settings=settings, host=host, port=port))
        announce(f"runledger: read API on http://{host}:{port}, data in {database.description}")
        await first(parts=[server], stop=stop.event.wait())
    return 0


async def run_migrate(settings: Settings, *, announce=print) -> int:
    database = await resolve_database(settings.database)
    applied = await migrate_database(database.dsn, log=settings.log)
    announce(f"runledger migrate: {len(applied)} migration(s) applied to {database.description}")
    return 0


@dataclass(frozen=True)
class ImportRequest:
    kind: str  # "argo-archive" or "kfp"
    dsn: str
    namespace: str | None = None
    since: datetime | None = None
    page_size: int = 500


_RESUME = "runledger import: stopped; what was imported is kept: run the same command again to resume"


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
    database = await resolve_database(settings.database)
    await migrate_database(database.dsn, log=settings.log)
    stop = StopSignal()
    node_url = request.dsn if request.kind == "argo-archive" else None
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(settings.database, database.dsn))
        await stack.enter_async_context(source_db)
        nodes = await stack.enter_async_context(argo_node_status(settings.argo, url=node_url))
        source: ImportSource = (
            ArgoArchive(source=source_db, namespace=request.namespace, since=request.since)
            if request.kind == "argo-archive"
            else KfpRuns(source=source_db)
        )
        ingestor = build_ingestor(settings=settings, pool=pool, node_status=nodes)
        reports: list[ImportReport] = []

        async def importing() -> None:
            with Progress(what=f"import {request.kind}", unit="rows",
                          interval=settings.log.progress_interval_seconds) as progress:  # fmt: skip
                reports.append(await run_import_source(source, ingestor=ingestor, pool=pool, page_size=request.page_size,
                                                       writers=settings.ingest.workers, progress=progress))  # fmt: skip

        stack.enter_context(stop.installed())
        try:
            async with ingestor:
                completed = await first(stop=stop.event.wait(), source=importing())
        except SourceError as exc:
            # The import wrote and checkpointed what it had submitted before the source failed.
            announce(f"runledger import: {exc}")
            announce(_RESUME)
            return 1
    if completed == "stop":
        announce(_RESUME)
        return 1
    announce(reports[0].line(ingestor.stats.errors))
    return 0


async def run_lineage_backfill(settings: Settings, *, since: datetime | None, announce=print) -> int:
    """`runledger openlineage backfill`: queue the stored history's events; those queued already are skipped."""
    database = await resolve_database(settings.database)
    await migrate_database(database.dsn, log=settings.log)
    async with open_pool(settings.database, database.dsn) as pool, pool.acquire() as conn:
        added = await openlineage_outbox.backfill(conn, since=since)
        waiting = await openlineage_outbox.backlog(conn)
    where = "" if settings.openlineage.export else " (export is off: set RUNLEDGER_OPENLINEAGE_URL or _FILE to send them)"
    announce(f"runledger openlineage backfill: {added} event(s) queued, {waiting} waiting to be sent{where}")
    return 0
