"""GET /api/v1/stats/pipelines and .../{pipeline}/templates over HTTP: the window (whole days), the namespaces the
caller may read (as every run listing), unit prices from the settings, and clear 400s."""

from __future__ import annotations

import json

from pydantic import SecretStr

from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.pipeline_runs import PIPELINE, crafted

GRANTS = [
    {"token": "reader-ml-0123456789abcdef", "user": "reader-ml", "namespaces": ["ml"]},
    {"token": "admin-0123456789abcdef", "user": "admin", "namespaces": ["*"]},
]
WINDOW = "since=2026-03-01T00:00:00Z&until=2026-03-08T00:00:00Z"


async def stored(pool, settings) -> None:
    runs, pods = crafted()
    await ingest(pool, settings, [wf.event() for wf in runs], pods=[{"type": "MODIFIED", "object": p} for p in pods])


async def get(api, path: str, *, token: str | None = None, status: int = 200) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with api.get(path, headers=headers) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def test_a_reader_of_one_namespace_sees_figures_of_that_namespace_only(pool, settings):
    await stored(pool, settings)
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(GRANTS))})
    async with serve(settings=configured, pool=pool) as api:
        mine = await get(api, f"/api/v1/stats/pipelines?{WINDOW}", token="reader-ml-0123456789abcdef")
        assert (mine["namespaces"], [(g["name"], g["count"]) for g in mine["groups"]]) == (["ml"], [(PIPELINE, 4)])
        every = await get(api, f"/api/v1/stats/pipelines?{WINDOW}", token="admin-0123456789abcdef")
        assert (every["namespaces"], every["groups"][0]["count"]) == (None, 5)
        await get(api, f"/api/v1/stats/pipelines?{WINDOW}&namespace=other", token="reader-ml-0123456789abcdef",
                  status=403)  # fmt: skip
        await get(api, f"/api/v1/stats/pipelines/{PIPELINE}/templates?{WINDOW}&namespace=ml,other",
                  token="reader-ml-0123456789abcdef", status=403)  # fmt: skip
        templates = await get(api, f"/api/v1/stats/pipelines/{PIPELINE}/templates?{WINDOW}",
                              token="reader-ml-0123456789abcdef")  # fmt: skip
        assert [(g["name"], g["count"]) for g in templates["groups"]] == [(None, 4), ("fit", 4), ("prep", 1)]
        await get(api, f"/api/v1/stats/pipelines?{WINDOW}", status=401)


async def test_the_window_is_whole_days_and_runs_outside_it_are_not_counted(pool, settings):
    await stored(pool, settings)
    async with serve(settings=settings, pool=pool) as api:
        body = await get(api, "/api/v1/stats/pipelines?since=2026-03-02T10:30:00Z&until=2026-03-02T12:10:00Z")
        assert (body["since"], body["until"]) == ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
        assert body["groups"][0]["count"] == 5
        assert (await get(api, "/api/v1/stats/pipelines?since=2026-03-03T00:00:00Z"))["groups"] == []
        assert (await get(api, "/api/v1/stats/pipelines"))["groups"] == []  # the last 7 days: none of them


async def test_unit_prices_from_the_settings_give_a_cost(pool, settings):
    await stored(pool, settings)
    priced = settings.updated(cost={"cpu_hour": 3.6, "memory_gib_hour": 0.36})
    async with serve(settings=priced, pool=pool) as api:
        body = await get(api, f"/api/v1/stats/pipelines?{WINDOW}")
        assert body["prices"] == {"cpu_hour": 3.6, "memory_gib_hour": 0.36, "gpu_hour": None}
        assert body["groups"][0]["cost"] == {"cpu": 0.2, "memory": 0.01, "gpu": None, "total": 0.21}


async def test_a_bad_window_is_a_400_that_says_what_to_change(pool, settings):
    async with serve(settings=settings, pool=pool) as api:
        body = await get(api, "/api/v1/stats/pipelines?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z",
                         status=400)  # fmt: skip
        assert "since" in body["error"]["message"]
        body = await get(api, "/api/v1/stats/pipelines?since=yesterday", status=400)
        assert "since" in body["error"]["message"]
        body = await get(api, "/api/v1/stats/pipelines?namespace=*", status=400)  # every namespace: leave it out
        assert "namespace" in body["error"]["message"]
