"""The API served over a real socket on 127.0.0.1, and a client for it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp.test_utils import TestServer

from runledger.api import serving
from runledger.service import build_app


@contextlib.asynccontextmanager
async def serve(**app_kwargs) -> AsyncIterator[aiohttp.ClientSession]:
    server = TestServer(build_app(**app_kwargs), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as session:
            yield session
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def serve_limited(*, settings, pool) -> AsyncIterator[tuple[str, int]]:
    """The API as `runledger` serves it (connection limits included): yields host and port."""
    runner = await serving.serve(build_app(settings=settings, pool=pool), api=settings.api, database=settings.database,
                                 host="127.0.0.1", port=0)
    try:
        host, port = runner.addresses[0][:2]
        yield host, port
    finally:
        await runner.cleanup()


async def half_sent(host: str, port: int, head: bytes = b"GET /api/v1/ru") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection that sends the start of a request and never the rest."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head)
    await writer.drain()
    return reader, writer


def closed_by_server(reader: asyncio.StreamReader) -> bool:
    return reader.at_eof() or reader.exception() is not None
