"""Artifact endpoints: /api/v1/artifacts and /api/v1/artifacts/{ref} (a numeric id or an s3:// URI)."""

from __future__ import annotations

from aiohttp import web

from runledger.api import auth, app_keys
from runledger.api.query_params import parse_artifact_query
from runledger.api.responses import model_response
from runledger.api.snapshot import read
from runledger.store import artifact_listing as repo


async def list_artifacts(request: web.Request) -> web.Response:
    query = parse_artifact_query(request.rel_url.query, max_limit=request.app[app_keys.API_SETTINGS].max_page_size)
    if (visible := await auth.visible_namespaces(request)) is not None:
        query = query.model_copy(update={"namespaces": tuple(sorted(visible))})
    page = await read(request, lambda conn: repo.list_artifacts(conn, query), one_statement=True)
    return model_response(page)


async def get_artifact(request: web.Request) -> web.Response:
    visible = await auth.visible_namespaces(request)
    ref = request.match_info["ref"]
    artifact = await read(request, lambda conn: repo.get_artifact(conn, ref, namespaces=visible), filters=False)
    if artifact is None:
        raise web.HTTPNotFound(reason="no artifact with this id or URI")
    return model_response(artifact)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/artifacts", list_artifacts)
    # {ref:.+}: an s3:// URI holds slashes.
    app.router.add_get("/api/v1/artifacts/{ref:.+}", get_artifact)
