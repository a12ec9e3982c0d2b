"""Two API replicas on one database both deliver what a writer outside them stores: the feed is
driven by Postgres notifications, not by anything in the writing process."""

from __future__ import annotations

from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import (
    as_stored,
    open_stream,
    serve_feed,
    stored_transitions,
)
from tests.support.ingesting import ingest


async def test_every_replica_streams_transitions_written_through_another_connection(dsn, pool, settings, conn):
    # Each replica opens its own pool from the DSN; the writer uses the test's pool.
    async with (
        serve_feed(settings=settings, dsn=dsn) as one,
        serve_feed(settings=settings, dsn=dsn) as two,
        open_stream(one.client) as first,
        open_stream(two.client) as second,
    ):
        wf = WorkflowBuilder(name="shared")
        await ingest(pool, settings, [wf.event("ADDED")])
        await ingest(pool, settings, [wf.phase("Running").node("a", "Running").event()])
        await ingest(pool, settings, [wf.node("a", "Succeeded").phase("Succeeded").event()])
        stored = await stored_transitions(conn)
        assert as_stored(await first.take(len(stored))) == stored
        assert as_stored(await second.take(len(stored))) == stored
