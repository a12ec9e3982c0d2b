"""The upsert itself refuses an older state or another owner, should another writer store the run after this one read it."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from runledger.store.writer import ConcurrentWrite, RunWriter
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import delete_runs


async def write(conn, writer: RunWriter, event: dict):
    return await writer.write(conn, [translate_workflow(event["object"])])


async def stored(conn) -> tuple[str, ...]:
    return tuple(await conn.fetchrow("SELECT namespace, name, phase, resource_version FROM runs"))


async def test_a_writer_with_an_outdated_view_neither_writes_an_older_version_nor_keeps_its_view(conn):
    wf = WorkflowBuilder(name="train", namespace="team-a")
    mine, other = RunWriter(), RunWriter()
    await write(conn, mine, wf.phase("Running").event("ADDED", resource_version=10))
    await write(conn, other, wf.phase("Succeeded").event(resource_version=20))

    late = wf.phase("Running").event(resource_version=15)
    with pytest.raises(ConcurrentWrite):
        await write(conn, mine, late)
    assert await stored(conn) == ("team-a", "train", "Succeeded", "20")
    assert (await write(conn, mine, late)).runs_stale == 1


async def test_a_writer_with_an_outdated_view_does_not_take_over_a_run_another_owner_stored(conn):
    team_a = WorkflowBuilder(name="train", namespace="team-a", uid="shared-uid").phase("Running")
    team_b = WorkflowBuilder(name="other", namespace="team-b", uid="shared-uid").phase("Failed")
    mine, other = RunWriter(), RunWriter()
    await write(conn, mine, team_a.event("ADDED"))
    await delete_runs(conn)
    await write(conn, other, team_b.event("ADDED"))

    update = team_a.phase("Succeeded").event()
    with pytest.raises(ConcurrentWrite):
        await write(conn, mine, update)
    assert (await stored(conn))[:3] == ("team-b", "other", "Failed")
    assert (await write(conn, mine, update)).runs_conflicting == 1
