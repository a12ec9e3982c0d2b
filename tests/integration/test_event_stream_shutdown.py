"""Stopping the API ends every open event stream at once, so shutdown does not wait out aiohttp's
grace period for handlers that would otherwise never return."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp.test_utils import TestServer

from runledger.api.feed_routes import HUB
from tests.support.event_streams import feed_app, open_stream, wait_connected


async def test_shutting_down_ends_open_streams_promptly(pool, settings):
    app = feed_app(settings=settings, pool=pool)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    closing = None
    try:
        await wait_connected(app)
        async with (
            aiohttp.ClientSession(base_url=str(server.make_url("/"))) as client,
            open_stream(client) as live,
            open_stream(client, headers={"Last-Event-ID": "0"}) as resumed,
        ):
            started = time.monotonic()
            closing = asyncio.create_task(server.close(), name="server-close")
            assert await live.ended(timeout=5) == []
            assert await resumed.ended(timeout=5) == []
            async with asyncio.timeout(5):
                await closing
            assert time.monotonic() - started < 5
    finally:
        if closing is None:
            await server.close()
    assert app[HUB].subscribers == 0 and not app[HUB].connected
