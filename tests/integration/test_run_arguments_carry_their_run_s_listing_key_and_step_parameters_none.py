"""Run arguments carry their run's listing key (run_sort_at), kept by the database whoever writes them;
step parameters never carry one, however they are written."""

from __future__ import annotations

from tests.support.bulk_import import synthetic_workflows
from tests.support.ingesting import ingest

WORKFLOW = synthetic_workflows(runs=1, nodes=4)[0]


async def _keys(conn) -> list[tuple]:
    return [tuple(r) for r in await conn.fetch(
        "SELECT p.step_id = '' AS argument, p.run_sort_at IS NOT DISTINCT FROM r.sort_at AS runs_key,"
        " p.run_sort_at IS NULL AS none FROM parameters p JOIN runs r ON r.id = p.run_id"
    )]  # fmt: skip


async def test_written_arguments_take_their_run_s_key_and_step_parameters_none(pool, settings, conn) -> None:
    await ingest(pool, settings, [{"type": "ADDED", "object": WORKFLOW}])
    keys = await _keys(conn)
    assert any(argument for argument, _, _ in keys) and not all(argument for argument, _, _ in keys)
    assert all(runs_key and not none for argument, runs_key, none in keys if argument)
    assert all(none for argument, _, none in keys if not argument)


async def test_a_step_parameter_given_a_key_keeps_none(pool, settings, conn) -> None:
    await ingest(pool, settings, [{"type": "ADDED", "object": WORKFLOW}])
    run_id, step_id = await conn.fetchrow("SELECT run_id, step_id FROM parameters WHERE step_id <> '' LIMIT 1")
    await conn.execute("INSERT INTO parameters (run_id, step_id, direction, name, value, truncated, fp, run_sort_at)"
                       " VALUES ($1, $2, 'input', 'given-a-key', 'v', false, 0, now())", run_id, step_id)  # fmt: skip
    await conn.execute("UPDATE parameters SET run_sort_at = now() WHERE step_id <> ''")
    assert await conn.fetchval("SELECT count(*) FROM parameters WHERE step_id <> '' AND run_sort_at IS NOT NULL") == 0


async def test_an_argument_moved_to_a_step_gives_its_key_up(pool, settings, conn) -> None:
    await ingest(pool, settings, [{"type": "ADDED", "object": WORKFLOW}])
    await conn.execute("UPDATE parameters SET step_id = 'moved' WHERE step_id = ''")
    assert await conn.fetchval("SELECT count(*) FROM parameters WHERE step_id = 'moved' AND run_sort_at IS NULL") > 0
    assert await conn.fetchval("SELECT count(*) FROM parameters WHERE run_sort_at IS NOT NULL") == 0
