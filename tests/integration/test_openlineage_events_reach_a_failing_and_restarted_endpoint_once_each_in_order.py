"""The sender delivers every queued event to a real HTTP endpoint that fails for a while and is restarted:
nothing lost, nothing twice, each run's events in the order they happened; a restarted sender resends nothing."""

from __future__ import annotations

from collections import Counter

from runledger.openlineage.sender import LineageSender
from runledger.openlineage.transports import transport_of
from tests.support.ingesting import ingest
from tests.support.lineage import queued, workflow_histories
from tests.support.lineage_receiver import lineage_receiver
from tests.support.openlineage_schema import validate_event
from tests.support.waiting import eventually


def sender_of(pool, settings) -> LineageSender:
    # Small batches: a run's events span several rounds, as a long backlog's do.
    return LineageSender(pool=pool, transport=transport_of(settings.openlineage), batch=7, poll_seconds=0.05, retry_max_seconds=0.2)


def export_settings(settings, url):
    return settings.updated(openlineage={"url": url})


async def test_nothing_is_lost_or_duplicated_and_each_run_keeps_its_order(pool, conn, settings, tmp_path):
    async with lineage_receiver(tmp_path / "received.jsonl") as receiver:
        on = export_settings(settings, receiver.url)
        await ingest(pool, on, workflow_histories(6))
        expected = await queued(conn)
        await receiver.fail(True)
        async with sender_of(pool, on) as sender:
            await eventually(lambda: _async(sender.stats.failed["retried"] >= 3), timeout=30)
            assert receiver.events() == []
            await receiver.restart()  # a new process, answering again
            await eventually(lambda: _async(len(receiver.events()) >= len(expected)), timeout=60)
        events = receiver.events()
        assert len(events) == len(expected) == sender.stats.sent
        keys = Counter((e["run"]["runId"], e["eventType"], e["eventTime"]) for e in events)
        assert max(keys.values()) == 1
        for e in events:
            validate_event(e)
        # Per run (and step), the order received is the order the phases were stored in.
        stored = await conn.fetch("SELECT run_id, step_id, to_phase FROM transitions ORDER BY id")
        by_run: dict[str, list[str]] = {}
        for e in events:
            flow = e["run"]["facets"]["runledger_workflow"]
            by_run.setdefault(flow["runId"], []).append((flow.get("stepId") or "", flow["phase"]))
        for run_id, received in by_run.items():
            assert received == [(r["step_id"], r["to_phase"]) for r in stored if r["run_id"] == run_id]
        assert await conn.fetchval("SELECT count(*) FROM openlineage_outbox WHERE sent_at IS NULL") == 0

        # A restart: a new sender finds nothing to send.
        async with sender_of(pool, on) as again:
            assert await again.round() == (0, False)
        assert len(receiver.events()) == len(expected)


async def test_a_refused_event_is_marked_and_never_blocks_the_rest(pool, conn, settings, tmp_path):
    async with lineage_receiver(tmp_path / "received.jsonl") as receiver:
        on = export_settings(settings, receiver.url.replace("/api/v1/lineage", "/api/v1/nowhere"))
        await ingest(pool, on, workflow_histories(1))
        total = len(await queued(conn))

        async def all_refused() -> bool:
            return await conn.fetchval("SELECT count(*) FROM openlineage_outbox WHERE refused_at IS NULL") == 0

        async with sender_of(pool, on) as sender:
            await eventually(all_refused, timeout=30)
        assert sender.stats.failed["refused"] == total and sender.stats.failed["retried"] == 0


async def _async(value: bool) -> bool:
    return value
