"""The event feed shows a caller only the namespaces it may read, live and when resuming."""

from __future__ import annotations

import json

from pydantic import SecretStr

from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import open_stream, serve_feed
from tests.support.ingesting import ingest

READER = "reader-a-0123456789abcdef"
GRANTS = [{"token": READER, "user": "reader-a", "namespaces": ["team-a"]}]


def run(name: str, namespace: str) -> dict:
    return WorkflowBuilder(name=name, namespace=namespace).phase("Succeeded").event("ADDED")


async def test_a_caller_receives_only_transitions_of_readable_namespaces(pool, settings):
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(GRANTS))})
    as_reader = {"Authorization": f"Bearer {READER}"}
    async with serve_feed(settings=configured, pool=pool) as feed:
        async with feed.client.get("/api/v1/events") as refused:
            assert refused.status == 401
        async with feed.client.get("/api/v1/events?namespace=team-b", headers=as_reader) as asked_for_other:
            assert asked_for_other.status == 403
        async with open_stream(feed.client, headers=as_reader) as stream:
            await ingest(pool, settings, [run("b1", "team-b"), run("a1", "team-a"), run("b2", "team-b")])
            [first] = await stream.take(1)
            assert first.data["namespace"] == "team-a" and first.data["workflow"] == "a1"
        async with open_stream(feed.client, headers={**as_reader, "Last-Event-ID": "0"}) as resumed:
            [replayed] = await resumed.take(1)
            assert replayed.data["workflow"] == "a1"
            await ingest(pool, settings, [run("b3", "team-b"), run("a2", "team-a")])
            [live] = await resumed.take(1)
            assert live.data["workflow"] == "a2"
