"""The Postgres servers running on a data directory, seen from outside as a person would (`ps`)."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil


def postmasters(pgdata: Path) -> list[psutil.Process]:
    """Running postgres server processes (not their backends) started on `pgdata`."""
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline", "ppid"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-D" in cmdline and str(pgdata) in cmdline:
            found.append(proc)
    return found


def stop_postmasters(pgdata: Path) -> None:
    """Fast shutdown of whatever a test left running on `pgdata`."""
    for proc in postmasters(pgdata):
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except psutil.TimeoutExpired:
            proc.kill()
