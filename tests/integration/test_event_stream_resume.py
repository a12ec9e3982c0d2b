"""Resuming with Last-Event-ID: exactly the missed events are replayed from the table, then the
stream continues live, with nothing twice and nothing lost at the seam."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import (
    as_stored,
    open_stream,
    serve_feed,
    stored_transitions,
)
from tests.support.ingesting import ingest


@pytest.fixture
async def feed(pool, settings):
    # Small batches, so a replay takes several round trips.
    async with serve_feed(settings=settings, pool=pool, hub_options={"batch_rows": 3, "queue_size": 100}) as feed:
        yield feed


def workflow(name: str, namespace: str = "ml") -> dict:
    wf = WorkflowBuilder(name=name, namespace=namespace).phase("Running")
    return wf.node("root", "Running", type="DAG").node("a", "Running", parent="root").event("ADDED")


async def test_resuming_replays_exactly_the_missed_events_then_continues_live(feed, pool, settings, conn):
    async with open_stream(feed.client) as stream:
        await ingest(pool, settings, [workflow("first")])
        seen = await stream.take(len(await stored_transitions(conn)))
    last = seen[-1].id
    await ingest(pool, settings, [workflow("missed-1"), workflow("missed-2")])
    missed = await stored_transitions(conn, after=last)
    async with open_stream(feed.client, headers={"Last-Event-ID": str(last)}) as stream:
        replayed = await stream.take(len(missed))
        await ingest(pool, settings, [workflow("live")])
        live = await stored_transitions(conn, after=missed[-1][0])
        received = await stream.take(len(live))
    assert as_stored(replayed) == missed
    assert as_stored(received) == live


async def test_resuming_while_transitions_are_being_written_has_no_gap_or_duplicate(feed, pool, settings, conn):
    await ingest(pool, settings, [workflow("before")])
    last = await conn.fetchval("SELECT max(id) FROM transitions")
    await ingest(pool, settings, [workflow(f"missed-{i}") for i in range(5)])

    async def keep_writing() -> None:
        for i in range(10):
            await ingest(pool, settings, [workflow(f"during-{i}")])

    writing = asyncio.create_task(keep_writing(), name="writer")
    try:
        async with open_stream(feed.client, headers={"Last-Event-ID": str(last)}) as stream:
            await writing
            expected = await stored_transitions(conn, after=last)
            received = await stream.take(len(expected))
    finally:
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)
    assert as_stored(received) == expected


async def test_the_query_parameter_resumes_and_the_header_takes_precedence(feed, pool, settings, conn):
    await ingest(pool, settings, [workflow("one"), workflow("two")])
    stored = await stored_transitions(conn)
    middle = stored[len(stored) // 2][0]
    async with open_stream(feed.client, f"?last_event_id={stored[0][0]}") as stream:
        assert as_stored(await stream.take(len(stored) - 1)) == stored[1:]
    # EventSource reconnects to the URL it started with, adding the header: the header is newer.
    headers = {"Last-Event-ID": str(middle)}
    async with open_stream(feed.client, f"?last_event_id={stored[0][0]}", headers=headers) as stream:
        expected = [t for t in stored if t[0] > middle]
        assert as_stored(await stream.take(len(expected))) == expected


async def test_a_resumed_replay_respects_the_namespace_filter(feed, pool, settings, conn):
    await ingest(pool, settings, [workflow("a-1", "team-a"), workflow("b-1", "team-b"), workflow("a-2", "team-a")])
    wanted = await conn.fetch(
        "SELECT t.id FROM transitions t JOIN runs r ON r.id = t.run_id WHERE r.namespace = 'team-a' ORDER BY t.id"
    )
    async with open_stream(feed.client, "?namespace=team-a", headers={"Last-Event-ID": "0"}) as stream:
        received = await stream.take(len(wanted))
        await ingest(pool, settings, [workflow("b-2", "team-b"), workflow("a-3", "team-a")])
        live = await stream.take(3)
    assert [e.id for e in received] == [r["id"] for r in wanted]
    assert {e.data["workflow"] for e in live} == {"a-3"}
