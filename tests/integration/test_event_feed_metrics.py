"""The event feed reports its streams, backlog and connection on /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import open_stream, serve_feed
from tests.support.ingesting import ingest


async def scrape(client) -> dict[str, float]:
    async with client.get("/metrics") as response:
        text = await response.text()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


async def test_open_streams_and_published_transitions_are_counted(pool, settings):
    async with serve_feed(settings=settings, pool=pool) as feed:
        before = await scrape(feed.client)
        assert before["runledger_event_streams"] == 0 and before["runledger_event_feed_connected"] == 1
        async with open_stream(feed.client) as stream:
            await ingest(pool, settings, [WorkflowBuilder(name="a1").phase("Succeeded").event("ADDED")])
            received = await stream.take(1)
            during = await scrape(feed.client)
        assert during["runledger_event_streams"] == 1
        assert during["runledger_event_feed_published_total"] >= len(received)
        assert during["runledger_event_feed_connects_total"] == 1
        assert during["runledger_event_streams_dropped_total"] == 0
