"""The curl examples of README.md and docs/api.md, run against the demo `runledger run` serves, each return data."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp

from tests.support.doc_examples import ROOT, holds_data, run, shell_examples
from tests.support.waiting import eventually

README = shell_examples(ROOT / "README.md", after_heading="## What you see after `make run`")
API = shell_examples(ROOT / "docs" / "api.md", after_heading="## Every endpoint, with an example")


async def demo_is_indexed(http: aiohttp.ClientSession) -> bool:
    """Ingested (ready) and every artifact of the recording checked, so metrics and artifact states are in."""

    async def get(path: str) -> dict | None:
        try:
            async with http.get(path) as resp:
                return await resp.json() if resp.status == 200 else None
        except aiohttp.ClientConnectionError:
            return None

    if await get("/readyz") is None:
        return False
    pending = await get("/api/v1/artifacts?state=pending&limit=1")
    known = await get("/api/v1/artifacts?limit=1")
    return bool(pending is not None and not pending["artifacts"] and known and known["artifacts"])


async def test_every_readme_and_api_example_returns_data_on_the_demo(dsn):
    from tests.support.processes import free_port

    assert len([e for e in README if not e.assigns]) >= 3, "the README shows a few examples"
    port = free_port()
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runledger", "run", env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            await eventually(lambda: demo_is_indexed(http), timeout=90, interval=0.5)
        empty = []
        for examples in (README, API):
            variables: dict[str, str] = {}
            for example in examples:
                output = await run(example, port=port, variables=variables)
                if example.assigns:
                    variables[example.assigns] = output
                    if not output:
                        empty.append(example.line)
                elif not holds_data(output, plain_text="/logs" in example.line):
                    empty.append(f"{example.line}\n  -> {output[:200]!r}")
        assert not empty, "examples without data:\n" + "\n".join(empty)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
