"""Thousands of half-sent requests neither use up the server's descriptors nor starve /healthz: past
the connection cap the connection idle longest makes room, and a request head that has not arrived
within the header timeout is closed."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.support.http import closed_by_server, half_sent, serve_limited
from tests.support.waiting import eventually

CLIENTS = 3000
CAP = 200
BATCH = 100  # below the cap: a probe's connection is never the longest idle one for long
HEADER_TIMEOUT = 8.0
# Well under the header timeout, so a starved probe fails here rather than after the stalled heads are closed;
# loose enough for a loaded 2-core machine that runs the clients in the server's own process.
PROBE_TIMEOUT = 4.0


@pytest.fixture
async def api(pool, settings):
    limited = settings.updated(api={"max_connections": CAP, "header_timeout_seconds": HEADER_TIMEOUT})
    async with serve_limited(settings=limited, pool=pool) as address:
        yield address


async def test_healthz_answers_in_time_while_thousands_of_clients_send_half_a_request(api):
    host, port = api
    clients: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    refused = 0

    async def flood() -> None:
        nonlocal refused
        for _ in range(CLIENTS // BATCH):
            batch = await asyncio.gather(*(half_sent(host, port) for _ in range(BATCH)), return_exceptions=True)
            # A connection reset before it was accepted (a full listen backlog) is shed too, not a failure.
            clients.extend(c for c in batch if not isinstance(c, ConnectionError))
            refused += sum(isinstance(c, ConnectionError) for c in batch)
            if errors := [c for c in batch if isinstance(c, BaseException) and not isinstance(c, ConnectionError)]:
                raise errors[0]

    # A new connection per probe, as the kubelet makes.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as probe:
        try:
            flooding = asyncio.create_task(flood(), name="slow-clients")
            answered = 0
            while not flooding.done() or answered == 0:
                async with asyncio.timeout(PROBE_TIMEOUT), probe.get(f"http://{host}:{port}/healthz") as response:
                    assert response.status == 200
                    answered += 1
            await flooding
            assert len(clients) + refused == CLIENTS and len(clients) > 5 * CAP and answered > 1

            async def within_the_cap() -> bool:
                return sum(not closed_by_server(reader) for reader, _ in clients) <= CAP

            await eventually(within_the_cap, timeout=5)

            async def all_closed() -> bool:
                return all(closed_by_server(reader) for reader, _ in clients)

            await eventually(all_closed, timeout=HEADER_TIMEOUT + 10)
            async with asyncio.timeout(PROBE_TIMEOUT), probe.get(f"http://{host}:{port}/healthz") as response:
                assert response.status == 200
        finally:
            for _, writer in clients:
                writer.close()
