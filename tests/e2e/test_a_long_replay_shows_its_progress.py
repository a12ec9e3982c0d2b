"""A long replay shows progress: a bar with its rate on a terminal, a summary line now and then in logs."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sys
from pathlib import Path

from tests.support.processes import runledger


def many_workflows(path: Path, *, count: int) -> Path:
    lines = (
        json.dumps({"type": "ADDED", "object": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                    "metadata": {"name": f"wf-{i}", "namespace": "argo", "uid": f"uid-{i}"},
                    "status": {"phase": "Succeeded"}}})
        for i in range(count)
    )  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_without_a_terminal_a_summary_line_is_logged_at_the_interval(dsn, tmp_path):
    path = many_workflows(tmp_path / "events.jsonl", count=3000)
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_PROGRESS_INTERVAL_SECONDS": "0.05"}
    code, _, err = await runledger("replay", str(path), env=env)
    assert code == 0, err
    lines = [line for line in err.splitlines() if "replay progress:" in line]
    assert lines and all("events" in line and "/s" in line for line in lines), err


def replay_on_a_terminal(path: Path, env: dict[str, str]) -> tuple[int, str]:
    primary, secondary = pty.openpty()
    pid = os.fork()
    if pid == 0:  # the child: stderr and stdout on the terminal
        os.dup2(secondary, 1)
        os.dup2(secondary, 2)
        os.execve(sys.executable, [sys.executable, "-m", "runledger", "replay", str(path)], {**os.environ, **env})
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


async def test_on_a_terminal_a_progress_bar_with_the_rate_is_drawn(dsn, tmp_path):
    path = many_workflows(tmp_path / "events.jsonl", count=3000)
    env = {"RUNLEDGER_DATABASE_URL": dsn, "TERM": "xterm-256color", "COLUMNS": "120"}
    code, output = await asyncio.to_thread(replay_on_a_terminal, path, env)
    assert code == 0, output
    assert "━" in output and "events/s" in output, output
