"""An OpenLineage HTTP endpoint in a child process: records what it accepts, fails on request, restarts.

`python -m tests.support.lineage_receiver PORT LOG` serves POST /api/v1/lineage: each accepted body
is appended to LOG (one JSON document a line, flushed before the 201), so what it acknowledged
outlives a restart. POST /control/fail with body "on" answers every lineage POST 500 until "off".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.support.processes import free_port
from tests.support.waiting import eventually


def _app(log: Path) -> web.Application:
    state = {"failing": False}

    async def lineage(request: web.Request) -> web.Response:
        body = await request.read()
        if state["failing"]:
            return web.Response(status=500, text="failing on purpose")
        json.loads(body)  # a malformed body fails the test loudly
        with log.open("ab") as f:
            f.write(body.replace(b"\n", b"") + b"\n")
        return web.Response(status=201)

    async def fail(request: web.Request) -> web.Response:
        state["failing"] = (await request.text()) == "on"
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/api/v1/lineage", lineage)
    app.router.add_post("/control/fail", fail)
    return app


class LineageReceiver:
    """The receiver process as a test drives it: start, fail, restart, read what it accepted."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1/lineage"
        self._proc: asyncio.subprocess.Process | None = None

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.lineage_receiver", str(self.port), str(self.log),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await eventually(self._answers, timeout=30)

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def fail(self, on: bool) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{self.port}/control/fail", data="on" if on else "off") as r:
                assert r.status == 204

    async def _answers(self) -> bool:
        try:
            async with aiohttp.ClientSession() as http, http.post(f"http://127.0.0.1:{self.port}/control/fail",
                                                                  data="off") as r:  # fmt: skip
                return r.status == 204
        except aiohttp.ClientConnectionError:
            return False


@contextlib.asynccontextmanager
async def lineage_receiver(log: Path) -> AsyncIterator[LineageReceiver]:
    receiver = LineageReceiver(log)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def main() -> None:
    port, log = int(sys.argv[1]), Path(sys.argv[2])
    web.run_app(_app(log), host="127.0.0.1", port=port, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
