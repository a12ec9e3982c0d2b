"""`runledger run` names the web UI's address before the curl examples, and the address serves it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import aiohttp

from tests.support.processes import until_ready
from tests.support.real_objects import fixture_files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_ui_address_comes_first_and_answers(dsn):
    port = free_port()
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port),
           "RUNLEDGER_REPLAY_FILES": str(fixture_files()[0])}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runledger", "run", env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            await until_ready(http, timeout=60)
            async with http.get("/", allow_redirects=False) as resp:
                assert (resp.status, resp.headers["Location"]) == (302, "/ui/")
            async with http.get("/ui/") as resp:
                assert resp.status == 200 and "app.js" in await resp.text()
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        hints = [line.strip() for line in out.decode().splitlines() if line.startswith("  ")]
        assert hints[0] == f"UI:  http://127.0.0.1:{port}/ui/"
        assert all(h.startswith("curl") for h in hints[1:]) and len(hints) > 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
