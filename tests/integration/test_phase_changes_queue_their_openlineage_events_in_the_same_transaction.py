"""With export on, every stored transition queues one OpenLineage event in its own transaction; off, none."""

from __future__ import annotations

from runledger.store import openlineage_outbox
from tests.support.ingesting import delete_runs, ingest
from tests.support.lineage import queued, workflow_histories


async def test_every_transition_stored_queues_exactly_one_event(pool, conn, settings):
    on = settings.updated(openlineage={"file": settings.database.data_dir / "events.jsonl"})
    await ingest(pool, on, workflow_histories(3))
    transitions = [r["id"] for r in await conn.fetch("SELECT id FROM transitions ORDER BY id")]
    assert transitions and await queued(conn) == transitions


async def test_replaying_the_same_history_queues_nothing_twice(pool, conn, settings):
    on = settings.updated(openlineage={"file": settings.database.data_dir / "events.jsonl"})
    await ingest(pool, on, workflow_histories(2))
    before = await queued(conn)
    await delete_runs(conn)  # the writer's memory of them is gone; the history is not
    await ingest(pool, on, workflow_histories(2))
    assert await queued(conn) == before


async def test_with_export_off_nothing_is_queued(pool, conn, settings):
    await ingest(pool, settings, workflow_histories(2))
    assert await conn.fetchval("SELECT count(*) FROM transitions") > 0
    assert await queued(conn) == []


async def test_a_backfill_queues_the_history_once_however_often_it_runs(pool, conn, settings):
    await ingest(pool, settings, workflow_histories(2))
    transitions = [r["id"] for r in await conn.fetch("SELECT id FROM transitions ORDER BY id")]
    assert await openlineage_outbox.backfill(conn, since=None) == len(transitions)
    assert await openlineage_outbox.backfill(conn, since=None) == 0
    assert await queued(conn) == transitions
