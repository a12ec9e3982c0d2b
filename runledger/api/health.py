"""Liveness and readiness.

/healthz says the process is alive: it serves requests and every watch stream has heard from the
API server recently (a stream stuck for long means a restart may help). /readyz says it should get traffic: the database
answers, every migration is applied, and every extra check registered by the running components
(e.g. "initial ingest finished") passes.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from runledger.api import keys
from runledger.api.responses import model_response
from runledger.store import connection as db
from runledger.store import migrations
from runledger.store.records import Health


async def healthz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    alive = True
    for name, check in request.app[keys.LIVENESS_CHECKS].items():
        ok, detail = await check()
        checks[name] = detail
        alive = alive and ok
    return model_response(Health(status="ok" if alive else "unavailable", checks=checks), status=200 if alive else 503)


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, str] = {}
    ready = True
    try:
        async with asyncio.timeout(2):
            async with app[keys.POOL].acquire() as conn:
                pending = await migrations.pending_migrations(conn)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not pending else f"{len(pending)} pending"
        ready = not pending
    except Exception as exc:
        if not db.is_transient(exc):  # the 2 s timeout is a TimeoutError, transient too
            raise
        checks["database"] = "unreachable"
        ready = False
    for name, check in app[keys.READINESS_CHECKS].items():
        ok, detail = await check()
        checks[name] = detail
        ready = ready and ok
    return model_response(Health(status="ok" if ready else "unavailable", checks=checks), status=200 if ready else 503)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
