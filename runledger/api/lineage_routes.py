"""Lineage endpoint: GET /api/v1/lineage?node=<ref>&direction=upstream|downstream|both&depth=N&limit=N."""

from __future__ import annotations

from aiohttp import web

from runledger.api import auth
from runledger.api.query_params import parse_lineage_query
from runledger.api.responses import document_response
from runledger.api.snapshot import read
from runledger.store import lineage_graph as repo
from runledger.store.lineage_graph import LineageQuery


async def get_lineage(request: web.Request) -> web.Response:
    query = parse_lineage_query(request.rel_url.query)
    visible = await auth.visible_namespaces(request)
    # One snapshot: the walks, the summaries and the edges see the same data. The walks bind node
    # ids, not filters, and planning them anew cost more than running them (~3.5 ms a request).
    graph = await read(
        request, lambda conn: repo.get_lineage_document(conn, query, namespaces=visible), filters=False
    )
    if graph is None:
        raise web.HTTPNotFound(reason=not_found_reason(query))
    # LineageGraph, written without a model per node (see lineage_graph.get_lineage_document).
    return document_response(graph)


def not_found_reason(query: LineageQuery) -> str:
    return f"no {query.ref.kind} matches this node"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/lineage", get_lineage)
