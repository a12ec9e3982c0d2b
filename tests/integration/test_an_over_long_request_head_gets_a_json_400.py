"""An over-long request line or header is answered with runledger's JSON 400, which does not echo
it, and logged in one line without a traceback."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.support.http import serve_limited

LONG = "x" * 20_000


@pytest.fixture
async def api(pool, settings):
    async with serve_limited(settings=settings, pool=pool) as address:
        yield address


async def exchange(host: str, port: int, head: str) -> tuple[str, dict]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head.encode())
        async with asyncio.timeout(5):
            raw = await reader.read()  # the server closes the connection after a 400
    finally:
        writer.close()
    status_and_headers, _, body = raw.decode().partition("\r\n\r\n")
    return status_and_headers, json.loads(body)


@pytest.mark.parametrize(
    "head",
    [
        f"GET /api/v1/runs?label={LONG} HTTP/1.1\r\nHost: h\r\n\r\n",
        f"GET /api/v1/runs HTTP/1.1\r\nHost: h\r\nX-Long: {LONG}\r\n\r\n",
    ],
    ids=["request line", "header"],
)
async def test_an_over_long_request_head_gets_a_json_400_that_does_not_echo_it(api, head, caplog):
    caplog.set_level(logging.INFO)
    status_and_headers, body = await exchange(*api, head)
    assert status_and_headers.split(" ", 2)[1] == "400"
    assert "application/json" in status_and_headers
    assert body["error"]["code"] == "bad_request"
    assert "xxxxxxxx" not in json.dumps(body)
    logged = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith(("aiohttp", "runledger"))]
    assert logged and all(r.exc_info is None and "xxxxxxxx" not in r.getMessage() for r in logged)
