"""The `runledger` command as a child process, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator

import aiohttp

from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def runledger(*args: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str, str]:
    """Run `runledger ARGS` to its end; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runledger", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()  # a command that should have exited must not outlive the test
        await proc.wait()
        raise
    return proc.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def running(*args: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """`runledger ARGS` running for the block; killed after it if still running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runledger", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def until_ready(http: aiohttp.ClientSession, *, timeout: float = 60) -> None:
    """Wait until the server behind `http` answers /readyz with 200 (refused connections included)."""

    async def ready() -> bool:
        try:
            async with http.get("/readyz") as resp:
                return resp.status == 200
        except aiohttp.ClientConnectionError:
            return False

    await eventually(ready, timeout=timeout)
