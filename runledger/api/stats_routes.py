"""Pipeline analytics endpoints: what fails, what waits, what costs, per pipeline and per template.

Read from the rollups (store/pipeline_stats), over the namespaces the caller may read, as every
run listing is: a `namespace` asked for must be readable (403 otherwise); without one, only the
readable namespaces are counted.
"""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from runledger.api import auth, app_keys
from runledger.api.responses import model_response
from runledger.api.snapshot import read
from runledger.store import pipeline_stats as stats
from runledger.store.read_errors import BadRequest


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    since: datetime | None = Field(
        default=None, description="Runs created from that UTC day on (RFC 3339). Default: 7 days before `until`."
    )
    until: datetime | None = Field(
        default=None, description="Runs created before then (RFC 3339; raised to the next midnight UTC). Default: now."
    )
    namespace: str | None = Field(
        default=None, max_length=8192, description="Comma-separated namespaces to count (default: all you may read)."
    )


async def _answer(request: web.Request, *, pipeline: str | None) -> web.Response:
    query = StatsQuery.model_validate(dict(request.rel_url.query))
    since, until = stats.window(since=_utc(query.since), until=_utc(query.until), now=datetime.now(timezone.utc))
    if since >= until:
        raise BadRequest("since: must be before until")
    namespaces = await _namespaces(request, query.namespace)
    cost = request.app[app_keys.COST_SETTINGS]
    prices = stats.UnitPrices(cpu_hour=cost.cpu_hour, memory_gib_hour=cost.memory_gib_hour, gpu_hour=cost.gpu_hour)
    # filters=False: one plan serves every window and namespace (a range of rollup rows each), so it is
    # cached rather than made anew for each request.
    answer = await read(request, lambda conn: stats.read_stats(conn, since=since, until=until, namespaces=namespaces,
                                                               pipeline=pipeline, prices=prices),
                        filters=False)  # fmt: skip
    return model_response(answer)


async def _namespaces(request: web.Request, asked: str | None) -> frozenset[str] | None:
    if asked is not None:
        wanted = frozenset(n.strip() for n in asked.split(",") if n.strip())
        if not wanted or stats.EVERY_NAMESPACE in wanted:
            raise BadRequest("namespace: give one or more namespace names, comma-separated (leave it out for all)")
        for namespace in sorted(wanted):
            await auth.require_namespace(request, namespace)
        return wanted
    return await auth.visible_namespaces(request)


def _utc(at: datetime | None) -> datetime | None:
    # A time without an offset is read as UTC, as the window's days are.
    return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at


async def pipelines(request: web.Request) -> web.Response:
    return await _answer(request, pipeline=None)


async def templates(request: web.Request) -> web.Response:
    return await _answer(request, pipeline=request.match_info["pipeline"])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/stats/pipelines", pipelines)
    app.router.add_get("/api/v1/stats/pipelines/{pipeline}/templates", templates)
