"""The API served over a real socket on 127.0.0.1, and a client for it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp.test_utils import TestServer

from runledger.api.app import create_app


@contextlib.asynccontextmanager
async def serve(**app_kwargs) -> AsyncIterator[aiohttp.ClientSession]:
    server = TestServer(create_app(**app_kwargs), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as session:
            yield session
    finally:
        await server.close()
