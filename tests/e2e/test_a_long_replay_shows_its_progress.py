"""A long replay shows progress in bytes read against the files' sizes: a bar with its rate and the time
left on a terminal, a summary line now and then in logs."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from tests.support.processes import on_a_terminal, plain, runledger


def many_workflows(path: Path, *, count: int) -> Path:
    lines = (
        json.dumps({"type": "ADDED", "object": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                    "metadata": {"name": f"wf-{i}", "namespace": "argo", "uid": f"uid-{i}"},
                    "status": {"phase": "Succeeded"}}})
        for i in range(count)
    )  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_without_a_terminal_a_summary_line_with_rate_and_time_left_is_logged_at_the_interval(dsn, tmp_path):
    path = many_workflows(tmp_path / "events.jsonl", count=3000)
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_PROGRESS_INTERVAL_SECONDS": "0.05"}
    code, _, err = await runledger("replay", str(path), env=env)
    assert code == 0, err
    size = f"{path.stat().st_size / 1000:.1f} kB"
    lines = [line for line in err.splitlines() if "replay progress:" in line]
    assert lines and all(re.search(rf"kB of {size}, [\d.]+ [kMG]?B/s, about \d+s left$", line) for line in lines), err
    assert re.search(rf"replay done in [\d.]+s: {size} of {size}, ", err), err


async def test_on_a_terminal_a_progress_bar_with_the_rate_and_the_time_left_is_drawn(dsn, tmp_path):
    path = many_workflows(tmp_path / "events.jsonl", count=3000)
    env = {"RUNLEDGER_DATABASE_URL": dsn, "TERM": "xterm-256color", "COLUMNS": "120"}
    code, output = await asyncio.to_thread(on_a_terminal, "replay", str(path), env=env)
    assert code == 0, output
    assert "━" in output and "B/s" in output and re.search(r"\d:\d\d:\d\d left", plain(output)), output
