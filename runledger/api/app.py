"""The aiohttp application: resources under typed AppKeys, JSON errors, routes.

The primary's pool is either handed in (``runledger run`` shares one pool between ingest and the
API) or opened from a DSN by a cleanup context, so it is closed however the app stops. The read
router (the standbys' pools and their monitor) is started and stopped by the next one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator

import asyncpg
import pydantic
from aiohttp import web

from runledger.api import (
    artifact_routes,
    caller_routes,
    check_routes,
    feed_routes,
    health,
    lineage_routes,
    openapi,
    preview_routes,
    prometheus,
    run_routes,
    stats_routes,
    step_log_routes,
)
from runledger.api import auth as auth_routes
from runledger.api import kfp_routes as kfp
from runledger.api.app_keys import (
    API_SETTINGS,
    COST_SETTINGS,
    EVENTS_SETTINGS,
    LIVENESS_CHECKS,
    OBJECT_STORE,
    POOL,
    READINESS_CHECKS,
    READS,
    ObjectStoreSlot,
)
from runledger.api.responses import S3Refused, S3Unavailable, error_response
from runledger.core.settings import (
    ApiSettings,
    ArtifactsSettings,
    AuthSettings,
    ClusterSettings,
    CostSettings,
    DatabaseSettings,
    EventsSettings,
)
from runledger.indexer.s3 import ObjectStore
from runledger.store import connection as db
from runledger.store.read_errors import (
    AccessUnavailable,
    BadRequest,
    Forbidden,
    Unauthenticated,
)
from runledger.store.read_routing import ReadRouter
from runledger.ui import routes as ui

log = logging.getLogger(__name__)

# Every module of endpoints; each has add_routes(app).
ROUTES = (health, caller_routes, check_routes, run_routes, stats_routes, step_log_routes, preview_routes,
          artifact_routes, prometheus, lineage_routes, kfp, feed_routes, openapi, ui)


@web.middleware
async def errors_as_json(request: web.Request, handler) -> web.StreamResponse:
    """Every error as JSON: runledger's {"error": {code, message}}, or KFP's shape under /apis/."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, code, message = exc.status, _code(exc.status), exc.reason
    except Exception as exc:
        status, code, message = _classify(exc, request)
    if request.path.startswith("/apis/"):
        response = kfp.error_response(status, message)
    else:
        response = error_response(status, code, message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="runledger"'
    return response


def _classify(exc: Exception, request: web.Request) -> tuple[int, str, str]:
    if isinstance(exc, BadRequest):
        return 400, "bad_request", str(exc)
    if isinstance(exc, pydantic.ValidationError):
        return 400, "bad_request", _describe(exc)
    if isinstance(exc, Unauthenticated):
        return 401, "unauthenticated", str(exc)
    if isinstance(exc, Forbidden):
        return 403, "forbidden", str(exc)
    if isinstance(exc, AccessUnavailable | S3Unavailable):
        return 503, "unavailable", str(exc)
    if isinstance(exc, S3Refused):
        return 502, "bad_gateway", str(exc)
    if isinstance(exc, asyncpg.QueryCanceledError):
        return 503, "timeout", "the query took too long; narrow it down"
    if db.is_transient(exc):
        return 503, "unavailable", "the database is unavailable"
    log.exception("unhandled error on %s %s", request.method, request.path_qs, exc_info=exc)
    return 500, "internal", "internal error"


MAX_BODY_BYTES = 64 * 1024


@web.middleware
async def bounded_requests(request: web.Request, handler) -> web.StreamResponse:
    # The API only reads; handlers never read a body, so aiohttp's client_max_size would never apply.
    # A body of unknown length (chunked) or over the cap is refused before anything runs.
    if request.body_exists and (request.content_length is None or request.content_length > MAX_BODY_BYTES):
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length or 0)
    # Postgres text cannot hold NUL: refused here once, rather than by each query that would bind it.
    if "\x00" in request.path or "\x00" in request.rel_url.query_string:
        raise BadRequest("the request holds a NUL character")
    return await handler(request)


def _code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(status, "error")


def _describe(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "request"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def create_app(
    *,
    database: DatabaseSettings,
    api: ApiSettings,
    events: EventsSettings,
    auth: AuthSettings,
    cluster: ClusterSettings,
    artifacts: ArtifactsSettings,
    cost: CostSettings,
    pool: asyncpg.Pool | None = None,
    dsn: str | None = None,
) -> web.Application:
    """The API, handed the groups of settings it reads (`cluster`: where auth's token reviews go), on
    `pool` or on a pool of its own opened from `dsn`."""
    if (pool is None) == (dsn is None):
        raise ValueError("give either a pool or a dsn")
    app = web.Application(middlewares=[errors_as_json, bounded_requests], client_max_size=MAX_BODY_BYTES)
    app[API_SETTINGS], app[EVENTS_SETTINGS], app[COST_SETTINGS] = api, events, cost
    app[READINESS_CHECKS] = {}
    app[LIVENESS_CHECKS] = {}
    app[prometheus.TELEMETRY] = prometheus.Telemetry(per_namespace=auth.metrics_by_namespace)
    if pool is not None:
        app[POOL] = pool
    else:
        app.cleanup_ctx.append(functools.partial(_pool_opened, dsn=dsn, database=database))
    app.cleanup_ctx.append(functools.partial(_reads_routed, database=database, api=api))
    app.cleanup_ctx.append(functools.partial(_object_store_built, artifacts=artifacts))
    app.on_startup.append(_start_counting)
    auth_routes.install(app, auth=auth, cluster=cluster)
    for routes in ROUTES:
        routes.add_routes(app)
    return app


async def _pool_opened(app: web.Application, *, dsn: str, database: DatabaseSettings) -> AsyncIterator[None]:
    app[POOL] = await db.create_pool(dsn, database=database)
    try:
        yield
    finally:
        await app[POOL].close()


async def _reads_routed(app: web.Application, *, database: DatabaseSettings, api: ApiSettings) -> AsyncIterator[None]:
    sources = app[prometheus.TELEMETRY].sources
    async with ReadRouter(primary=app[POOL], database=database, api=api) as router:
        app[READS] = router
        sources["read_targets"] = functools.partial(prometheus.read_target_metrics, router)
        try:
            yield
        finally:
            sources.pop("read_targets", None)


async def _object_store_built(app: web.Application, *, artifacts: ArtifactsSettings) -> AsyncIterator[None]:
    # Built here, so malformed S3 credentials stop start-up with their message.
    app[OBJECT_STORE] = ObjectStoreSlot(ObjectStore(artifacts=artifacts))
    try:
        yield
    finally:
        await app[OBJECT_STORE].store.close()


async def _start_counting(app: web.Application) -> None:
    await app[prometheus.TELEMETRY].start_counting(app[POOL])
