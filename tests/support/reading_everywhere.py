"""Reading one run through every endpoint that shows it, as clients do: each must answer 200."""

from __future__ import annotations

from typing import Any

import aiohttp

RUN_PATHS = ("/api/v1/runs/{id}", "/api/v1/runs/{id}/steps", "/api/v1/runs/{id}/timeline")
KFP_PATHS = ("/apis/v1beta1/runs/{id}", "/apis/v2beta1/runs/{id}")
LIST_PATHS = ("/api/v1/runs", "/apis/v1beta1/runs", "/apis/v2beta1/runs")
# Sorted by the columns a bad time lands in, in both directions, one run a page, so that a page
# token is issued from the bad row's own sort key.
SORTED_LIST_PATHS = (
    "/api/v1/runs?limit=1&sort=created_at", "/api/v1/runs?limit=1&sort=-created_at",
    "/api/v1/runs?limit=1&sort=finished_at", "/api/v1/runs?limit=1&sort=-finished_at",
    "/apis/v1beta1/runs?page_size=1&sort_by=created_at", "/apis/v1beta1/runs?page_size=1&sort_by=created_at%20desc",
    "/apis/v2beta1/runs?page_size=1&sort_by=finished_at", "/apis/v2beta1/runs?page_size=1&sort_by=finished_at%20desc",
)  # fmt: skip


async def get_ok(client: aiohttp.ClientSession, path: str) -> dict[str, Any]:
    async with client.get(path) as resp:
        text = await resp.text()
        assert resp.status == 200, f"GET {path}: {resp.status} {text}"
        return await resp.json()


async def read_run_everywhere(client: aiohttp.ClientSession, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's detail, steps, timeline, KFP v1/v2 detail, and every listing walked page by page."""
    bodies = {}
    for path in RUN_PATHS + KFP_PATHS:
        bodies[path] = await get_ok(client, path.format(id=run_id))
    for path in LIST_PATHS:
        bodies[path] = await get_ok(client, path)
    for path in SORTED_LIST_PATHS:
        await walk(client, path)
    return bodies


async def walk(client: aiohttp.ClientSession, path: str) -> list[dict[str, Any]]:
    """Every run of a listing, following page tokens to the end."""
    runs, token = [], None
    while True:
        body = await get_ok(client, path + (f"&page_token={token}" if token else ""))
        runs += body.get("runs") or []
        token = body.get("next_page_token")
        if not token:
            return runs
