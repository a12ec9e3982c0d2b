"""GET /api/v1/checks/runs and /api/v1/checks/lineage: would this query be accepted?

Each parses its query string with the very parser of the listing it checks (and, for runs, asks
whether the caller may read the namespaces it names), and answers 200 with the problems found, so
a page can tell a person what is wrong with a filter without provoking the 400 or 403 a browser
logs as a failed load. The listings themselves answer malformed queries as before.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from runledger.api import app_keys, auth
from runledger.api.query_params import parse_lineage_query, parse_run_query
from runledger.api.responses import model_response
from runledger.store.read_errors import BadRequest, Forbidden
from runledger.store.read_models import Out


class QueryCheck(Out):
    ok: bool = Field(description="The query would be accepted.")
    problems: list[str] = Field(description="What is wrong with it, as the endpoint's 400 or 403 would say.")


def _answer(problem: str | None) -> web.Response:
    return model_response(QueryCheck(ok=problem is None, problems=[] if problem is None else [problem]))


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
        parse_lineage_query(request.rel_url.query)
    except BadRequest as exc:
        return _answer(str(exc))
    return _answer(None)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/checks/runs", check_runs)
    app.router.add_get("/api/v1/checks/lineage", check_lineage)
