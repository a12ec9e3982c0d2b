"""A keep-alive connection left idle after its last response is closed by the server."""

from __future__ import annotations

import asyncio

from tests.support.http import closed_by_server, serve_limited
from tests.support.waiting import eventually


async def test_a_keepalive_connection_idle_past_the_timeout_is_closed(pool, settings):
    idle_settings = settings.updated(api={"keepalive_timeout_seconds": 1.0})
    async with serve_limited(settings=idle_settings, pool=pool) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200")
                length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length"))
                await reader.readexactly(length)
            assert not closed_by_server(reader)

            async def closed() -> bool:
                return closed_by_server(reader)

            await eventually(closed, timeout=5)
        finally:
            writer.close()
