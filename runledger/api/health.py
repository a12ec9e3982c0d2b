"""Liveness and readiness.

/healthz says the process is alive: it serves requests and every watch stream has heard from the
API server recently (a stream stuck for long means a restart may help). /readyz says it should get traffic: the database
answers (a standby within the lag bound, or the primary), every migration is applied, and every extra check registered by the running components
(e.g. "initial ingest finished") passes.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from runledger.api import app_keys
from runledger.api.responses import model_response
from runledger.store import connection as db
from runledger.store import migrations
from runledger.store.read_routing import OK, STANDBY, ReadRouter
from runledger.store.read_models import Health


async def healthz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    alive = True
    for name, check in request.app[app_keys.LIVENESS_CHECKS].items():
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
            pending = await app[app_keys.READS].read(migrations.pending_migrations)
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not pending else f"{len(pending)} pending"
        ready = not pending
    except Exception as exc:
        if not db.is_transient(exc):  # the 2 s timeout is a TimeoutError, transient too
            raise
        checks["database"] = "unreachable"
        ready = False
    checks.update(_read_targets(app[app_keys.READS]))
    for name, check in app[app_keys.READINESS_CHECKS].items():
        ok, detail = await check()
        checks[name] = detail
        ready = ready and ok
    return model_response(Health(status="ok" if ready else "unavailable", checks=checks), status=200 if ready else 503)


def _read_targets(router: ReadRouter) -> dict[str, str]:
    """Each standby's state, lag and share of reads; the primary's role too once there are standbys.
    Information only: a standby left out is no reason to take this process out of service."""
    if not router.standbys:
        return {}
    total = sum(t.reads for t in router.targets) or 1
    shown = {}
    for target in router.targets:
        lag = f", {target.lag_seconds:.1f}s behind" if target.lag_seconds is not None and target.role == STANDBY else ""
        detail = f" ({target.detail})" if target.state != OK and target.detail else ""
        shown[f"reads:{target.name}"] = f"{target.role} {target.state}{lag}, {100 * target.reads / total:.0f}% of reads{detail}"
    return shown


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
