"""/readyz of `runledger run` is 503 until the replay source is stored, then 200, never 200 then 503."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.support.processes import free_port, running
from tests.support.real_objects import fixture_files

DEMO_RUNS = 40


async def statuses_until_ready(http: aiohttp.ClientSession, *, timeout: float) -> tuple[list[int], int]:
    """Poll /readyz every 50 ms from process start; (every status seen, runs listed at the first 200)."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get("/readyz") as resp:
                seen.append(resp.status)
            if resp.status == 200:
                async with http.get("/api/v1/runs?limit=500") as resp:
                    return seen, len((await resp.json())["runs"])
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"not ready within {timeout}s; statuses seen: {sorted(set(seen))}")


@pytest.mark.parametrize("source", ["demo", "replay files"])
async def test_the_first_ready_answer_comes_when_every_replayed_run_is_listed(dsn, source):
    port = free_port()
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port)}
    expected = DEMO_RUNS
    if source == "replay files":
        env["RUNLEDGER_REPLAY_FILES"] = ",".join(str(p) for p in fixture_files())
        expected = len(fixture_files())
    async with running("run", env=env), aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
        seen, listed = await statuses_until_ready(http, timeout=90)
        assert listed == expected, f"ready with {listed} of {expected} runs stored"
        for _ in range(10):  # and it stays ready
            async with http.get("/readyz") as resp:
                assert resp.status == 200
            await asyncio.sleep(0.05)
