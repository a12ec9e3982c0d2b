"""A real `runledger run` process stopped and started again over the same database sends each
OpenLineage event once: what the endpoint acknowledged before the restart is not sent again, and
what happened since is."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import asyncpg

from tests.support.builders import WorkflowBuilder
from tests.support.lineage import workflow_histories
from tests.support.lineage_receiver import lineage_receiver
from tests.support.processes import free_port, running, stopped, until_ready
from tests.support.waiting import eventually


def jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


async def run_until_everything_is_sent(env: dict[str, str], conn: asyncpg.Connection) -> None:
    async def all_sent() -> bool:
        unsent = await conn.fetchval(
            "SELECT count(*) FILTER (WHERE sent_at IS NULL AND refused_at IS NULL) FROM openlineage_outbox")
        return unsent == 0 and await conn.fetchval("SELECT count(*) FROM openlineage_outbox") > 0

    async with running("run", env=env, capture=True) as proc:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{env['RUNLEDGER_API_PORT']}") as http:
            await until_ready(http)
        await eventually(all_sent, timeout=60)
        _, err = await stopped(proc)
        assert proc.returncode == 0, err[-2000:]


async def test_a_restart_sends_only_the_events_of_what_happened_since(dsn, conn, tmp_path):
    first = jsonl(tmp_path / "first.jsonl", workflow_histories(3))
    late = WorkflowBuilder(name="late", namespace="late-team")
    second = jsonl(tmp_path / "second.jsonl", [late.event("ADDED"), late.phase("Succeeded").event()])
    async with lineage_receiver(tmp_path / "received.jsonl") as receiver:
        env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(free_port()),
               "RUNLEDGER_ARTIFACTS_INDEX": "false", "RUNLEDGER_OPENLINEAGE_URL": receiver.url}  # fmt: skip
        await run_until_everything_is_sent({**env, "RUNLEDGER_REPLAY_FILES": str(first)}, conn)
        before = receiver.events()
        assert len(before) == await conn.fetchval("SELECT count(*) FROM transitions")
        # The same history replayed again, and one workflow more.
        await run_until_everything_is_sent({**env, "RUNLEDGER_REPLAY_FILES": f"{first},{second}"}, conn)
        after = receiver.events()
    assert after[: len(before)] == before
    since = after[len(before):]
    assert since and {e["job"]["namespace"] for e in since} == {"late-team"}
    assert "late-team" not in {e["job"]["namespace"] for e in before}
    assert len(after) == await conn.fetchval("SELECT count(*) FROM transitions")
