"""With RUNLEDGER_OPENLINEAGE_FILE the sender appends each event as one JSON line, flushed to disk before it
counts as sent; a restarted sender appends only what is new, after what is already there."""

from __future__ import annotations

import os

import orjson

from runledger.openlineage.sender import LineageSender
from runledger.openlineage.transports import FileTransport, transport_of
from tests.support.ingesting import ingest
from tests.support.lineage import queued, workflow_histories
from tests.support.openlineage_schema import validate_event
from tests.support.waiting import eventually


async def all_sent(conn) -> bool:
    return await conn.fetchval("SELECT count(*) FROM openlineage_outbox WHERE sent_at IS NULL") == 0


def lines(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_events_are_appended_one_a_line_and_a_restart_appends_only_new_ones(pool, conn, settings, tmp_path):
    path = tmp_path / "lineage.jsonl"
    on = settings.updated(openlineage={"file": path})
    await ingest(pool, on, workflow_histories(2))
    first = await queued(conn)
    async with LineageSender(pool=pool, transport=transport_of(on.openlineage), batch=5, poll_seconds=0.05):
        await eventually(lambda: all_sent(conn), timeout=30)
    assert len(lines(path)) == len(first)
    assert path.read_bytes().endswith(b"\n")
    for event in lines(path):
        validate_event(event)

    await ingest(pool, on, workflow_histories(3))  # the same two runs again, and a third
    both = await queued(conn)
    async with LineageSender(pool=pool, transport=transport_of(on.openlineage), batch=5, poll_seconds=0.05):
        await eventually(lambda: all_sent(conn), timeout=30)
    events = lines(path)
    assert len(events) == len(both) > len(first)
    assert len({(e["run"]["runId"], e["eventType"], e["eventTime"]) for e in events}) == len(events)


async def test_an_event_counts_as_sent_only_once_it_is_fsynced(tmp_path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    transport = FileTransport(path=tmp_path / "lineage.jsonl")
    outcomes = await transport.send_run([b'{"a":1}', b'{"b":2}'])
    assert [o.sent for o in outcomes] == [True, True] and len(synced) == 1
    assert (tmp_path / "lineage.jsonl").read_bytes() == b'{"a":1}\n{"b":2}\n'


async def test_an_unwritable_file_is_a_retry_not_a_crash(tmp_path):
    transport = FileTransport(path=tmp_path / "missing-dir" / "lineage.jsonl")
    [outcome] = await transport.send_run([b"{}"])
    assert not outcome.sent and not outcome.refused and "cannot write" in outcome.error
