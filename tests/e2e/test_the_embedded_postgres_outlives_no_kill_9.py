"""`runledger run` with the embedded Postgres, killed with SIGKILL: its server is left running (nothing
can stop it then), and the next start takes it over and stops it on a clean exit."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import BinaryIO

import aiohttp

from tests.support.postgres_processes import postmasters, stop_postmasters
from tests.support.processes import free_port, until_ready
from tests.support.waiting import eventually


async def start_runledger(data_dir: Path, port: int, log: BinaryIO) -> asyncio.subprocess.Process:
    env = {"RUNLEDGER_DATA_DIR": str(data_dir), "RUNLEDGER_API_PORT": str(port), "RUNLEDGER_ARTIFACTS_INDEX": "false"}
    env = {k: v for k, v in {**os.environ, **env}.items() if k != "RUNLEDGER_DATABASE_URL"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runledger", "run", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=log,
    )  # fmt: skip


async def wait_ready(port: int) -> None:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
        await until_ready(http, timeout=90)


async def test_a_start_after_kill_9_takes_over_the_orphaned_server_and_stops_it_on_a_clean_exit(tmp_path):
    pgdata = tmp_path / "postgres"
    with (tmp_path / "first.log").open("wb") as first, (tmp_path / "second.log").open("wb") as second:
        await _kill_then_restart(tmp_path, pgdata, first, second)


async def _kill_then_restart(tmp_path: Path, pgdata: Path, first: BinaryIO, second: BinaryIO) -> None:
    try:
        port = free_port()
        killed = await start_runledger(tmp_path, port, first)
        await wait_ready(port)
        killed.kill()
        await killed.wait()
        orphans = postmasters(pgdata)
        assert orphans, "the server of the killed process should still be running"

        port = free_port()
        again = await start_runledger(tmp_path, port, second)
        try:
            await wait_ready(port)
            again.send_signal(signal.SIGTERM)
            await asyncio.wait_for(again.wait(), 60)
            assert again.returncode == 0, (tmp_path / "second.log").read_text()[-2000:]
        finally:
            if again.returncode is None:
                again.kill()
                await again.wait()

        async def none_left() -> bool:
            return not postmasters(pgdata)

        await eventually(none_left, timeout=10)
    finally:
        stop_postmasters(pgdata)
