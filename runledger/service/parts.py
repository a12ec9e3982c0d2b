"""The parts the commands share, built from the settings: each handed only the groups it reads.

Here, and nowhere else, the whole ``Settings`` is taken apart: the ingest path, the API, the
artifact indexer and the OpenLineage sender each get their groups. ``enter_*`` starts a part on the
caller's ``AsyncExitStack`` (the one lifecycle: it stops in reverse order), or nothing when the
settings leave it off.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web

from runledger.agent.argo_database import NodeStatus, OffloadTable
from runledger.agent.ingest import Ingestor
from runledger.agent.source_databases import SourceDatabase
from runledger.api import prometheus
from runledger.api.app import create_app
from runledger.api.prometheus import Source, indexer_metrics, openlineage_metrics
from runledger.core.lifecycle import Service
from runledger.core.settings import ArgoSettings, OpenLineageSettings, Settings
from runledger.indexer.worker import ArtifactIndexer
from runledger.openlineage.sender import LineageSender
from runledger.openlineage.transports import transport_of
from runledger.service.command_errors import CommandError
from runledger.service.api_server import ApiServer


def build_ingestor(*, settings: Settings, pool: asyncpg.Pool, **options: Any) -> Ingestor:
    """The ingest path (`options`: Ingestor's own, such as track_runs, node_status)."""
    return Ingestor(pool=pool, ingest=settings.ingest, argo=settings.argo, artifacts=settings.artifacts,
                    openlineage=settings.openlineage, **options)  # fmt: skip


def build_app(*, settings: Settings, pool: asyncpg.Pool | None = None, dsn: str | None = None) -> web.Application:
    """The API application, on `pool` or on a pool of its own opened from `dsn`."""
    return create_app(database=settings.database, api=settings.api, events=settings.events, auth=settings.auth,
                      cluster=settings.cluster, artifacts=settings.artifacts, cost=settings.cost, pool=pool,
                      dsn=dsn)  # fmt: skip


def build_indexer(*, settings: Settings, pool: asyncpg.Pool, **options: Any) -> ArtifactIndexer:
    """The artifact indexer (`options`: ArtifactIndexer's own, such as store, poll_seconds, grace)."""
    return ArtifactIndexer(pool=pool, artifacts=settings.artifacts, ingest=settings.ingest, **options)


def build_server(app: web.Application, *, settings: Settings, host: str, port: int) -> ApiServer:
    return ApiServer(app, api=settings.api, database=settings.database, host=host, port=port)


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
        table = OffloadTable(source=source, table=argo.database_offload_table, cluster=argo.database_cluster_name)
        yield NodeStatus(table=table, retry_initial=0.2, retry_max=10.0, wait_seconds=argo.database_offload_wait_seconds)
    finally:
        await source.close()


async def enter_indexer(stack: contextlib.AsyncExitStack, settings: Settings, *, pool: asyncpg.Pool) -> list[Service]:
    """The artifact indexer, started on `stack` when artifacts are indexed: [indexer] or []."""
    if not settings.artifacts.index:
        return []
    return [await stack.enter_async_context(build_indexer(settings=settings, pool=pool))]


async def enter_lineage_sender(
    stack: contextlib.AsyncExitStack, openlineage: OpenLineageSettings, *, pool: asyncpg.Pool
) -> list[Service]:
    """The OpenLineage sender, started on `stack` when export is configured: [sender] or []."""
    if not openlineage.export:
        return []
    check_lineage_settings(openlineage)
    return [await stack.enter_async_context(LineageSender(pool=pool, transport=transport_of(openlineage)))]


def check_lineage_settings(openlineage: OpenLineageSettings) -> None:
    if openlineage.url is not None and openlineage.file is not None:
        raise CommandError(
            "RUNLEDGER_OPENLINEAGE_URL and RUNLEDGER_OPENLINEAGE_FILE are both set: set one of them", code=2
        )
    url = urlsplit(openlineage.url or "http://x")
    if url.scheme not in ("http", "https") or not url.netloc:
        raise CommandError(
            f"RUNLEDGER_OPENLINEAGE_URL {openlineage.url!r} is not an http(s) URL: set it to the "
            "endpoint's, e.g. http://marquez:5000/api/v1/lineage",
            code=2,
        )


def part_reports(*, indexers: list[Service], senders: list[Service]) -> dict[str, Source]:
    """The /metrics sources of the optional parts that run."""
    return {"indexer": functools.partial(indexer_metrics, i) for i in indexers} | {
        "openlineage": functools.partial(openlineage_metrics, s) for s in senders
    }


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
