"""An event stream ends after events_stream_max_seconds, so its caller is authorized again on reconnecting."""

from __future__ import annotations

import json
import time

from pydantic import SecretStr

from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import open_stream, serve_feed
from tests.support.ingesting import ingest

READER = "reader-a-0123456789abcdef"


async def test_a_stream_ends_at_its_maximum_age_and_a_revoked_token_cannot_reconnect(pool, settings, tmp_path):
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps([{"token": READER, "user": "reader-a", "namespaces": ["team-a"]}]))
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(tokens.read_text())}, events={"stream_max_seconds": 1.0})  # fmt: skip
    as_reader = {"Authorization": f"Bearer {READER}"}
    async with serve_feed(settings=configured, pool=pool) as feed:
        opened = time.monotonic()
        async with open_stream(feed.client, headers=as_reader) as stream:
            await ingest(pool, settings, [WorkflowBuilder(name="a1", namespace="team-a").phase("Succeeded").event("ADDED")])
            received = await stream.ended(timeout=10)
        assert time.monotonic() - opened >= 1.0
        assert [e.data["workflow"] for e in received] == ["a1"]
        last = received[-1].id

    revoked = configured.updated(auth={"static_tokens": SecretStr("[]")})
    async with serve_feed(settings=revoked, pool=pool) as feed:
        async with feed.client.get("/api/v1/events", headers={**as_reader, "Last-Event-ID": str(last)}) as again:
            assert again.status == 401
