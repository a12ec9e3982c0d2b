"""GET /api/v1/checks/runs and /api/v1/checks/lineage: would this query be accepted?

Each parses its query string with the very parser of the listing it checks (and, for runs, asks
whether the caller may read the namespaces it names; for lineage, whether its node exists for this
caller), and answers 200 with the problems found, so a page can tell a person what is wrong without
provoking the 400, 403 or 404 a browser logs as a failed load. The listings themselves answer
malformed queries as before.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from runledger.api import app_keys, auth
from runledger.api.query_params import parse_lineage_query, parse_run_query
from runledger.api.lineage_routes import not_found_reason
from runledger.api.responses import model_response
from runledger.api.snapshot import read
from runledger.store import lineage_graph
from runledger.store.read_errors import BadRequest, Forbidden
from runledger.store.read_models import Out


class QueryCheck(Out):
    ok: bool = Field(description="The query would be accepted.")
    problems: list[str] = Field(description="What is wrong with it, as the endpoint's 400, 403 or 404 would say.")
    missing: bool = Field(False, description="The query is well-formed but names nothing this caller may read "
                          "(the endpoint would answer 404).")


def _answer(problem: str | None, *, missing: bool = False) -> web.Response:
    problems = [] if problem is None else [problem]
    return model_response(QueryCheck(ok=problem is None, problems=problems, missing=missing))


async def check_runs(request: web.Request) -> web.Response:
    max_limit = request.app[app_keys.API_SETTINGS].max_page_size
    try:
        query = parse_run_query(request.rel_url.query, max_limit=max_limit)
        for namespace in query.namespace or ():
            await auth.require_namespace(request, namespace)
    except (BadRequest, Forbidden) as exc:
        return _answer(str(exc))
    return _answer(None)


async def check_lineage(request: web.Request) -> web.Response:
    try:
        query = parse_lineage_query(request.rel_url.query)
    except BadRequest as exc:
        return _answer(str(exc))
    visible = await auth.visible_namespaces(request)
    if not await read(request, lambda conn: lineage_graph.node_exists(conn, query.ref, namespaces=visible),
                      filters=False):  # fmt: skip
        return _answer(not_found_reason(query), missing=True)
    return _answer(None)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/checks/runs", check_runs)
    app.router.add_get("/api/v1/checks/lineage", check_lineage)
