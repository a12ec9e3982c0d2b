"""The `runledger` command as a child process, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
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
async def running(
    *args: str, env: dict[str, str], capture: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`runledger ARGS` running for the block, its output kept for `stopped` with `capture`; killed
    after the block if still running."""
    output = asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runledger", *args, env={**os.environ, **env}, stdout=output, stderr=output,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stopped(proc: asyncio.subprocess.Process, *, timeout: float = 30) -> tuple[str, str]:
    """SIGTERM `proc`, as Kubernetes stops a pod, and wait for its exit: its (stdout, stderr), if captured."""
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return (out or b"").decode(), (err or b"").decode()


async def until_ready(http: aiohttp.ClientSession, *, timeout: float = 60) -> None:
    """Wait until the server behind `http` answers /readyz with 200 (refused connections included)."""

    async def ready() -> bool:
        try:
            async with http.get("/readyz") as resp:
                return resp.status == 200
        except aiohttp.ClientConnectionError:
            return False

    await eventually(ready, timeout=timeout)


async def until_demo_indexed(http: aiohttp.ClientSession, *, timeout: float = 90) -> None:
    """Wait until `runledger run` on the demo has ingested it (ready) and checked every artifact of
    the recording, so metrics and artifact states are in."""

    async def get(path: str) -> dict | None:
        try:
            async with http.get(path) as resp:
                return await resp.json() if resp.status == 200 else None
        except aiohttp.ClientConnectionError:
            return None

    async def indexed() -> bool:
        if await get("/readyz") is None:
            return False
        pending = await get("/api/v1/artifacts?state=pending&limit=1")
        known = await get("/api/v1/artifacts?limit=1")
        return bool(pending is not None and not pending["artifacts"] and known and known["artifacts"])

    await eventually(indexed, timeout=timeout, interval=0.5)


def on_a_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run `runledger ARGS` with stdout and stderr on a pseudo-terminal (blocking: call it in a thread);
    (exit code, what the terminal showed)."""
    import pty

    primary, secondary = pty.openpty()
    pid = os.fork()
    if pid == 0:  # the child: stderr and stdout on the terminal
        os.dup2(secondary, 1)
        os.dup2(secondary, 2)
        os.execve(sys.executable, [sys.executable, "-m", "runledger", *args], {**os.environ, **env})
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(primary)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def plain(terminal_output: str) -> str:
    """What a terminal showed, without its control sequences (colours, cursor moves)."""
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal_output)
