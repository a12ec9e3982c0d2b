"""`runledger openlineage backfill` queues an event for every stored phase change; run again, it adds none."""

from __future__ import annotations

from tests.support.ingesting import ingest
from tests.support.lineage import queued, workflow_histories
from tests.support.processes import runledger


async def test_backfill_twice_queues_the_history_once(dsn, pool, conn, settings):
    await ingest(pool, settings, workflow_histories(2))
    stored = [r["id"] for r in await conn.fetch("SELECT id FROM transitions ORDER BY id")]
    env = {"RUNLEDGER_DATABASE_URL": dsn}
    code, out, err = await runledger("openlineage", "backfill", env=env)
    assert code == 0, err
    assert f"{len(stored)} event(s) queued" in out and "export is off" in out
    code, out, _ = await runledger("openlineage", "backfill", "--since", "2026-01-01", env=env)
    assert code == 0 and "0 event(s) queued" in out
    assert await queued(conn) == stored
