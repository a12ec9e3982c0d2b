"""The demo recording replayed as fast as it reads (states coalesce in the queue) still stores every
phase each run went through, with the times its objects record."""

from __future__ import annotations

from itertools import groupby

from runledger.demo.artifact_store import bundled_recording
from runledger.core.run_state import TERMINAL_PHASES
from tests.support.ingesting import dump, replay_command

RUN_HISTORY = """
SELECT t.run_id, t.from_phase, t.to_phase, t.at, r.phase, r.created_at, r.started_at, r.finished_at
FROM transitions t JOIN runs r ON r.id = t.run_id
WHERE t.step_id = '' ORDER BY t.run_id, t.id
"""


EVERY_CHAIN = "SELECT run_id, step_id, from_phase, to_phase FROM transitions ORDER BY run_id, step_id, id"


async def replay_demo(settings, dsn) -> None:
    code, counts = await replay_command(settings.updated(database={"url": dsn}), [bundled_recording()])
    assert code == 0 and counts["errors"] == "0"


async def test_every_finished_run_went_through_pending_and_running_at_its_own_times(dsn, settings, conn):
    await replay_demo(settings, dsn)
    stored = await conn.fetchval("SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM steps)")
    assert await conn.fetchval("SELECT count(*) FROM transitions") > stored
    finished = 0
    for _, rows in groupby(await conn.fetch(RUN_HISTORY), key=lambda r: r["run_id"]):
        rows = list(rows)
        run = rows[0]
        if run["phase"] not in TERMINAL_PHASES:
            continue
        finished += 1
        assert [(r["from_phase"], r["to_phase"], r["at"]) for r in rows] == [
            (None, "Pending", run["created_at"]),
            ("Pending", "Running", run["started_at"]),
            ("Running", run["phase"], run["finished_at"]),
        ]
    assert finished > 0


async def test_each_run_s_and_step_s_transitions_leave_the_phase_the_one_before_entered(dsn, settings, conn):
    await replay_demo(settings, dsn)
    for _, group in groupby(await conn.fetch(EVERY_CHAIN), key=lambda r: (r["run_id"], r["step_id"])):
        rows = list(group)
        phases = [None] + [r["to_phase"] for r in rows]
        assert [r["from_phase"] for r in rows] == phases[:-1]


async def test_replaying_the_recording_again_changes_nothing(dsn, settings, conn):
    await replay_demo(settings, dsn)
    first = await dump(conn)
    await replay_demo(settings, dsn)
    assert await dump(conn) == first
