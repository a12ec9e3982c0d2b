"""Requests are bounded before they reach the database: query length, body size, page size, repeats."""

from __future__ import annotations

import pytest

from tests.support.http import serve


@pytest.fixture
async def api(pool, settings):
    async with serve(settings=settings.updated(api={"max_page_size": 200}), pool=pool) as client:
        yield client


async def test_an_oversized_query_string_is_refused(api):
    async with api.get("/api/v1/runs?label=" + "x" * 20_000) as response:
        assert 400 <= response.status < 500


async def test_an_oversized_body_is_refused(api):
    async with api.get("/api/v1/runs", data=b"x" * (65 * 1024)) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs?limit=201",
        "/api/v1/artifacts?limit=100000",
        "/api/v1/runs?" + "&".join(f"label=k{i}" for i in range(21)),
        "/api/v1/lineage?node=run:x&depth=101",
        "/api/v1/lineage?node=run:x&limit=100000",
    ],
)
async def test_pages_depths_and_repeated_filters_are_capped(api, path):
    async with api.get(path) as response:
        body = await response.json()
        assert response.status == 400, body
        assert body["error"]["code"] == "bad_request"
