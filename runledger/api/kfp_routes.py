"""KFP-compatible read endpoints: healthz, ListRuns and GetRun of /apis/v1beta1 and /apis/v2beta1.

So that KFP tooling (the ``kfp`` SDK's Client, scripts written against KFP's REST API) can read
runledger's history. Query parameters are KFP's; an unknown one is a 400, as everywhere in runledger.
Errors use the body both of KFP's gateways produce (v1's ApiStatus and v2's google.rpc.Status merged:
``error``, ``code`` (a gRPC code), ``message``, ``details``), which kfp_server_api hands to callers as
the body of its ApiException. The shapes and mapping decisions are described in
runledger/kfp/run_documents.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any

import asyncpg
import orjson
from aiohttp import web
from pydantic import BaseModel

from runledger.api import auth
from runledger.api.snapshot import read
from runledger.kfp import list_requests as kfp_queries
from runledger.kfp import run_documents as kfp
from runledger.store import run_history as run_repo
from runledger.store.read_errors import BadRequest

_V2_LIST_PARAMS = {"namespace", "experiment_id", "page_token", "page_size", "sort_by", "filter"}
_V1_LIST_PARAMS = {"page_token", "page_size", "sort_by", "filter", "resource_reference_key.type", "resource_reference_key.id"}
# google.rpc.Code for each HTTP status this module answers with.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 3, 500: 13, 503: 14}


def _respond(model: BaseModel, *, status: int = 200) -> web.Response:
    # KFP's gateway leaves unpopulated fields out (protojson, EmitUnpopulated=false); so do we.
    return web.Response(body=model.model_dump_json(exclude_none=True), status=status, content_type="application/json")


def error_response(status: int, message: str) -> web.Response:
    """An error in KFP's shape; the app's middleware answers every error under /apis/ with it."""
    code = _GRPC_CODES.get(status, 2)
    return web.Response(
        body=kfp.KfpError(error=message, code=code, message=message, details=[]).model_dump_json(),
        status=status,
        content_type="application/json",
    )


def _params(request: web.Request, allowed: set[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in request.rel_url.query.items():
        if key not in allowed:
            raise BadRequest(f"unknown parameter {key!r}")
        if key in params:
            raise BadRequest(f"parameter {key!r} given more than once")
        params[key] = value
    return params


def _page_size(raw: str | None) -> int:
    """KFP's rule: absent or 0 -> 20, negative -> error, above 200 -> 200 (clamped, not refused)."""
    if not raw:
        return kfp.DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise BadRequest(f"page_size must be an integer, got {raw!r}") from None
    if size < 0:
        raise BadRequest(f"page_size must not be negative, got {size}")
    return min(size, kfp.MAX_PAGE_SIZE) if size else kfp.DEFAULT_PAGE_SIZE


def _version() -> str:
    try:
        return metadata.version("runledger")
    except metadata.PackageNotFoundError:
        return "unknown"


async def healthz_v1(request: web.Request) -> web.Response:
    return _respond(kfp.HealthzV1(commit_sha="unknown", tag_name=f"runledger-{_version()}", multi_user=False))


async def healthz_v2(request: web.Request) -> web.Response:
    return _respond(
        kfp.HealthzV2(commit_sha="unknown", tag_name=f"runledger-{_version()}", multi_user=False, pipeline_store="database")
    )


async def list_runs_v2(request: web.Request) -> web.Response:
    params = _params(request, _V2_LIST_PARAMS)
    if params.get("experiment_id"):
        raise BadRequest("unsupported parameter 'experiment_id': runledger cannot list runs by KFP experiment")
    page, histories = await _list_page(
        request, params, api="v2", namespace=params.get("namespace") or None, details=kfp.run_histories
    )
    runs = [kfp.v2_run(r, history=histories.get(r["id"], [])) for r in page.rows]
    return _respond(
        kfp.V2ListRunsResponse(runs=runs or None, total_size=page.total_size or None, next_page_token=page.next_page_token)
    )


async def get_run_v2(request: web.Request) -> web.Response:

    async def work(conn: asyncpg.Connection):
        row = await _find_visible_run(request, conn)
        return row, await run_repo.list_steps(conn, row["id"]), await run_repo.list_transitions(conn, row["id"])

    row, steps, transitions = await read(request, work, filters=False)
    history = [(t.to_phase, t.at) for t in transitions if t.step_id is None]
    return _respond(kfp.v2_run(row, history=history, steps=steps, transitions=transitions))


async def list_runs_v1(request: web.Request) -> web.Response:
    params = _params(request, _V1_LIST_PARAMS)
    page, metrics = await _list_page(request, params, api="v1", namespace=_v1_namespace(params), details=kfp.run_metrics)
    runs = [kfp.v1_run(r, metrics=metrics.get(r["id"], [])) for r in page.rows]
    return _respond(
        kfp.ApiListRunsResponse(runs=runs or None, total_size=page.total_size or None, next_page_token=page.next_page_token)
    )


async def _list_page(
    request: web.Request,
    params: dict[str, str],
    *,
    api: kfp_queries.Api,
    namespace: str | None,
    details: Callable[[asyncpg.Connection, list[str]], Awaitable[dict[str, Any]]],
) -> tuple[kfp.RunPage, dict[str, Any]]:
    """One page of a ListRuns request and, in the same snapshot, `details` of its runs by id."""
    page_size = _page_size(params.get("page_size"))
    query, after = kfp_queries.resolve_query(
        api=api,
        namespace=namespace,
        sort_by=params.get("sort_by") or None,
        filter_text=params.get("filter") or None,
        page_token=params.get("page_token") or None,
    )
    visible = await _visibility(request, query)

    async def work(conn: asyncpg.Connection):
        page = await kfp.list_runs(conn, query, after=after, page_size=page_size, namespaces=visible)
        return page, await details(conn, [r["id"] for r in page.rows])

    return await read(request, work)


async def _visibility(request: web.Request, query: kfp_queries.ListQuery) -> frozenset[str] | None:
    """What the caller may see of `query`: a 403 for a named namespace it may not read (as KFP does)."""
    if query.namespace is not None:
        await auth.require_namespace(request, query.namespace)
        return None
    return await auth.visible_namespaces(request)


async def _find_visible_run(request: web.Request, conn: asyncpg.Connection) -> asyncpg.Record:
    run_id = request.match_info["run_id"]
    row = await kfp.find_run(conn, run_id)
    if row is None or not await auth.namespace_visible(request, row["namespace"]):
        raise web.HTTPNotFound(reason=f"no run with id {run_id!r}")
    return row


def _v1_namespace(params: dict[str, str]) -> str | None:
    kind = params.get("resource_reference_key.type") or "UNKNOWN_RESOURCE_TYPE"
    ref = params.get("resource_reference_key.id") or None
    if kind == "NAMESPACE":
        if ref is None:
            raise BadRequest("resource_reference_key.id is required with resource_reference_key.type=NAMESPACE")
        return ref
    if kind == "UNKNOWN_RESOURCE_TYPE" and ref is None:
        return None
    raise BadRequest(
        f"unsupported resource_reference_key.type {kind!r}: runledger lists runs by NAMESPACE only"
        " (it cannot list runs by KFP experiment, pipeline or job)"
    )


async def get_run_v1(request: web.Request) -> web.Response:

    async def work(conn: asyncpg.Connection):
        row = await _find_visible_run(request, conn)
        return row, await run_repo.list_steps(conn, row["id"]), await run_repo.list_metrics(conn, row["id"])

    row, steps, metrics = await read(request, work, filters=False)
    manifest = orjson.dumps(kfp.workflow_manifest(row, steps)).decode()
    return _respond(
        kfp.ApiRunDetail(
            run=kfp.v1_run(row, metrics=kfp.v1_metrics(metrics)),
            pipeline_runtime=kfp.ApiPipelineRuntime(workflow_manifest=manifest),
        )
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/apis/v1beta1/healthz", healthz_v1)
    app.router.add_get("/apis/v2beta1/healthz", healthz_v2)
    app.router.add_get("/apis/v1beta1/runs", list_runs_v1)
    app.router.add_get("/apis/v1beta1/runs/{run_id}", get_run_v1)
    app.router.add_get("/apis/v2beta1/runs", list_runs_v2)
    app.router.add_get("/apis/v2beta1/runs/{run_id}", get_run_v2)
