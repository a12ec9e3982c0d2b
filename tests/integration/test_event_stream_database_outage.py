"""The feed's connection to Postgres cut (through a TCP proxy) and restored: open streams stay
open, keep their heartbeats, and receive every transition stored meanwhile, once."""

from __future__ import annotations

from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import (
    as_stored,
    open_stream,
    serve_feed,
    stored_transitions,
)
from tests.support.ingesting import ingest
from tests.support.tcp_proxy import postgres_proxy
from tests.support.waiting import eventually


def workflow(name: str) -> dict:
    return WorkflowBuilder(name=name).phase("Running").node("a", "Running").event("ADDED")


async def test_transitions_stored_while_the_feed_was_cut_off_arrive_after_it_reconnects(dsn, pool, settings, conn):
    proxy, proxied = await postgres_proxy(dsn)
    try:
        async with serve_feed(settings=settings, dsn=proxied) as feed, open_stream(feed.client) as stream:
            # The writer is elsewhere (another process) and keeps its own way to the database.
            await ingest(pool, settings, [workflow("before")])
            before = await stream.take(len(await stored_transitions(conn)))

            proxy.cut()
            await eventually(lambda: _disconnected(feed.hub))
            await ingest(pool, settings, [workflow(f"during-{i}") for i in range(3)])
            beats = stream.comments.count("keep-alive")
            await stream.heartbeats(beats + 2)

            proxy.restore()
            missed = await stored_transitions(conn, after=before[-1].id)
            caught_up = await stream.take(len(missed), timeout=20)
            await ingest(pool, settings, [workflow("after")])
            live = await stored_transitions(conn, after=missed[-1][0])
            after = await stream.take(len(live))
            assert feed.hub.stats.connects >= 2
    finally:
        await proxy.close()
    assert as_stored(caught_up) == missed
    assert as_stored(after) == live


async def _disconnected(hub) -> bool:
    return not hub.connected
