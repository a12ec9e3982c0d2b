"""Migration 0007: transition ids become visible in commit order, and every inserting statement
notifies listeners once with the newest id it inserted."""

from __future__ import annotations

import asyncio

import asyncpg

from runledger.store.transition_feed import CHANNEL
from tests.support.waiting import eventually

INSERT = "INSERT INTO transitions (run_id, step_id, to_phase, at) VALUES ($1, '', 'Running', now()) RETURNING id"


async def test_a_second_writer_draws_ids_only_after_the_first_one_committed(dsn, conn):
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        one = first.transaction()
        await one.start()
        first_id = await first.fetchval(INSERT, "run-1")
        two = second.transaction()
        await two.start()
        drawing = asyncio.create_task(second.fetchval(INSERT, "run-2"), name="second-writer")
        try:
            await eventually(lambda: _waiting_for_advisory_lock(conn))
            assert not drawing.done()
            await one.commit()
            second_id = await drawing
        finally:
            drawing.cancel()
            await asyncio.gather(drawing, return_exceptions=True)
        await two.commit()
    finally:
        await first.close()
        await second.close()
    assert second_id > first_id


async def test_each_inserting_statement_notifies_once_with_its_newest_id(dsn, conn):
    listener = await asyncpg.connect(dsn)
    payloads: list[str] = []
    try:
        await listener.add_listener(CHANNEL, lambda *args: payloads.append(args[3]))
        ids = await conn.fetch(
            "INSERT INTO transitions (run_id, step_id, to_phase, at)"
            " SELECT 'run', 'node-' || i, 'Running', '2026-01-01T00:00:00Z' FROM generate_series(1, 50) i RETURNING id"
        )
        # Nothing inserted (all conflict), nothing to say.
        await conn.execute(
            "INSERT INTO transitions (run_id, step_id, to_phase, at)"
            " VALUES ('run', 'node-1', 'Running', '2026-01-01T00:00:00Z') ON CONFLICT DO NOTHING"
        )
        last = await conn.fetchval(INSERT, "other")
        await eventually(lambda: _count(payloads, 2))
    finally:
        await listener.close()
    assert payloads == [str(max(r["id"] for r in ids)), str(last)]


async def _waiting_for_advisory_lock(conn: asyncpg.Connection) -> bool:
    return await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 1


async def _count(items: list, n: int) -> bool:
    return len(items) >= n
