"""Run history endpoints: /api/v1/runs, /api/v1/runs/{id}, its steps and its timeline."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from runledger.api import auth, app_keys
from runledger.api.query_params import parse_run_query
from runledger.api.responses import document_response, model_response
from runledger.api.snapshot import read
from runledger.store import run_history as repo
from runledger.store import run_listing as listing
from runledger.store.read_errors import BadRequest
from runledger.store.read_models import MetricList, RunDetail, Timeline

MAX_COMPARED = 50


async def list_runs(request: web.Request) -> web.Response:
    query = parse_run_query(request.rel_url.query, max_limit=request.app[app_keys.API_SETTINGS].max_page_size)
    if query.namespace is not None:
        for namespace in query.namespace:
            await auth.require_namespace(request, namespace)
    elif (visible := await auth.visible_namespaces(request)) is not None:
        query = query.model_copy(update={"namespaces": tuple(sorted(visible))})
    # memoize off: a page joins each run once, so memoized runs_pkey probes never hit (see begin_snapshot).
    # A page alone is one statement; with its count, two that must agree.
    rows, token, total = await read(request, lambda conn: listing.list_runs(conn, query), memoize=False,
                                    one_statement=not query.count)  # fmt: skip
    # RunPage, written without a model per run (see run_listing.run_documents).
    return document_response({"runs": listing.run_documents(rows), "next_page_token": token, "total": total})


async def get_run(request: web.Request) -> web.Response:
    async def work(conn: asyncpg.Connection):
        run = await repo.get_run(conn, request.match_info["run_id"])
        if run is None or not await auth.namespace_visible(request, run.namespace):
            raise web.HTTPNotFound(reason="no run with this id")
        return run, await repo.list_metrics(conn, run.id)

    run, metrics = await read(request, work, filters=False)
    return model_response(RunDetail(**run.model_dump(), metrics=metrics))


async def _of_existing_run(request: web.Request, reader):  # noqa: ANN001, ANN202
    """What `reader(conn, run_id)` returns, in one snapshot; 404 when the run is unknown or not readable."""
    run_id = request.match_info["run_id"]

    async def work(conn: asyncpg.Connection):
        namespace = await repo.run_namespace(conn, run_id)
        if namespace is None or not await auth.namespace_visible(request, namespace):
            raise web.HTTPNotFound(reason="no run with this id")
        return await reader(conn, run_id)

    return await read(request, work, filters=False)


async def list_metrics(request: web.Request) -> web.Response:
    return model_response(MetricList(metrics=await _of_existing_run(request, repo.list_metrics)))


async def list_steps(request: web.Request) -> web.Response:
    # StepList, written without a model per step (see run_history.list_step_documents).
    return document_response({"steps": await _of_existing_run(request, repo.list_step_documents)})


async def timeline(request: web.Request) -> web.Response:
    return model_response(Timeline(transitions=await _of_existing_run(request, repo.list_transitions)))


class CompareQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ids: str = Field(min_length=1, max_length=8192, description="Comma-separated run ids, 1 to 50 of them.")


async def compare(request: web.Request) -> web.Response:
    query = CompareQuery.model_validate(dict(request.rel_url.query))
    ids = list(dict.fromkeys(i.strip() for i in query.ids.split(",") if i.strip()))
    if not 1 <= len(ids) <= MAX_COMPARED:
        raise BadRequest(f"ids: give 1 to {MAX_COMPARED} distinct run ids")
    visible = await auth.visible_namespaces(request)
    comparison = await read(request, lambda conn: repo.compare_runs(conn, ids, namespaces=visible), filters=False)
    return model_response(comparison)


class SeriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=253, description="The metric.")
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)


async def pipeline_metric(request: web.Request) -> web.Response:
    query = SeriesQuery.model_validate(dict(request.rel_url.query))
    visible = await auth.visible_namespaces(request)
    series = await read(request, lambda conn: repo.metric_series(
        conn, pipeline=request.match_info["pipeline"], metric=query.name,
        since=query.created_after, until=query.created_before, limit=query.limit, namespaces=visible,
    ))  # fmt: skip
    return model_response(series)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/runs/compare", compare)
    app.router.add_get("/api/v1/pipelines/{pipeline}/metrics", pipeline_metric)
    app.router.add_get("/api/v1/runs", list_runs)
    app.router.add_get("/api/v1/runs/{run_id}", get_run)
    app.router.add_get("/api/v1/runs/{run_id}/steps", list_steps)
    app.router.add_get("/api/v1/runs/{run_id}/timeline", timeline)
    app.router.add_get("/api/v1/runs/{run_id}/metrics", list_metrics)
