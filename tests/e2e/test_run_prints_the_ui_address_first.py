"""`runledger run` names the web UI's address first of all it prints, and the address serves it."""

from __future__ import annotations

import aiohttp

from tests.support.processes import free_port, running, stopped, until_ready
from tests.support.real_objects import fixture_files


async def test_the_ui_address_comes_first_and_answers(dsn):
    port = free_port()
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port),
           "RUNLEDGER_REPLAY_FILES": str(fixture_files()[0])}  # fmt: skip
    async with running("run", env=env, capture=True) as proc:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            await until_ready(http, timeout=60)
            async with http.get("/", allow_redirects=False) as resp:
                assert (resp.status, resp.headers["Location"]) == (302, "/ui/")
            async with http.get("/ui/") as resp:
                assert resp.status == 200 and "app.js" in await resp.text()
        out, err = await stopped(proc)
        assert proc.returncode == 0, err
        assert out.splitlines()[0] == f"runledger: web UI on http://127.0.0.1:{port}/ui/  (Ctrl-C to stop)"
        hints = [line.strip() for line in out.splitlines() if line.startswith("  ")]
        assert all(h.startswith("curl") for h in hints) and len(hints) > 1
