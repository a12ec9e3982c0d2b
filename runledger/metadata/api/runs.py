"""Run history endpoints: /api/v1/runs, /api/v1/runs/{id}, its steps and its timeline."""

from __future__ import annotations

from aiohttp import web

from runledger.metadata import run_listing as listing
from runledger.metadata import runs as repo
from runledger.metadata.api import keys
from runledger.metadata.api.responses import model_response
from runledger.metadata.schemas import MetricList, RunDetail, RunPage, StepList, Timeline


async def list_runs(request: web.Request) -> web.Response:
    query = listing.parse_run_query(request.rel_url.query, max_limit=request.app[keys.SETTINGS].api_max_page_size)
    async with request.app[keys.POOL].acquire() as conn:
        rows, token, total = await listing.list_runs(conn, query)
    return model_response(RunPage(runs=[repo.run_from_row(r) for r in rows], next_page_token=token, total=total))


async def get_run(request: web.Request) -> web.Response:
    async with request.app[keys.POOL].acquire() as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            run = await repo.get_run(conn, request.match_info["run_id"])
            if run is None:
                raise web.HTTPNotFound(reason="no run with this id")
            metrics = await repo.list_metrics(conn, run.id)
    return model_response(RunDetail(**run.model_dump(), metrics=metrics))


async def list_metrics(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    async with request.app[keys.POOL].acquire() as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            if not await repo.run_exists(conn, run_id):
                raise web.HTTPNotFound(reason="no run with this id")
            metrics = await repo.list_metrics(conn, run_id)
    return model_response(MetricList(metrics=metrics))


async def list_steps(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    async with request.app[keys.POOL].acquire() as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            if not await repo.run_exists(conn, run_id):
                raise web.HTTPNotFound(reason="no run with this id")
            steps = await repo.list_steps(conn, run_id)
    return model_response(StepList(steps=steps))


async def timeline(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    async with request.app[keys.POOL].acquire() as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            if not await repo.run_exists(conn, run_id):
                raise web.HTTPNotFound(reason="no run with this id")
            transitions = await repo.list_transitions(conn, run_id)
    return model_response(Timeline(transitions=transitions))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/runs", list_runs)
    app.router.add_get("/api/v1/runs/{run_id}", get_run)
    app.router.add_get("/api/v1/runs/{run_id}/steps", list_steps)
    app.router.add_get("/api/v1/runs/{run_id}/timeline", timeline)
    app.router.add_get("/api/v1/runs/{run_id}/metrics", list_metrics)
