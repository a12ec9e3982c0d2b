"""A response body over a mebibyte (the steps of a 5,000-pod fan-out) is served, not turned into an error.

aiohttp warns about raw bodies over 1 MiB; with warnings as errors (as under test) that warning
became a 500 for any run big enough.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from runledger.service import build_app
from tests.support.ingesting import ingest
from tests.support.ui_server import fanout_workflow


async def test_the_steps_of_a_5000_pod_fanout_are_served(pool, settings):
    await ingest(pool, settings, [fanout_workflow("big", pods=5000)])
    async with TestClient(TestServer(build_app(settings=settings, pool=pool), host="127.0.0.1")) as client:
        response = await client.get("/api/v1/runs/uid-big/steps")
        body = await response.read()
    assert response.status == 200
    assert len(body) > 1 << 20
    assert len((await response.json())["steps"]) == 5002
