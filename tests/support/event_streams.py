"""Serving the event feed and reading it as a dashboard would: real sockets, a small SSE parser."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer

from runledger.api import feed_routes as events
from runledger.service import build_app

# Fast enough for tests, and small enough that a heartbeat test does not wait.
TEST_HUB_OPTIONS = {"heartbeat_seconds": 0.2, "reconnect_max_seconds": 0.2, "poll_seconds": 1.0}


@dataclass
class Event:
    id: int | None
    type: str
    data: dict[str, Any]


@dataclass
class Feed:
    """One served app and a client session for it."""

    app: web.Application
    server: TestServer
    client: aiohttp.ClientSession

    @property
    def hub(self):  # noqa: ANN201
        return self.app[events.HUB]


def feed_app(**app_kwargs: Any) -> web.Application:
    hub_options = app_kwargs.pop("hub_options", {})
    app = build_app(**app_kwargs)
    app[events.HUB_OPTIONS] = TEST_HUB_OPTIONS | hub_options
    return app


@contextlib.asynccontextmanager
async def serve_feed(app: web.Application | None = None, **app_kwargs: Any) -> AsyncIterator[Feed]:
    app = app if app is not None else feed_app(**app_kwargs)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as client:
            await wait_connected(app)
            yield Feed(app, server, client)
    finally:
        await server.close()


async def wait_connected(app: web.Application, timeout: float = 10.0) -> None:
    assert await app[events.HUB].wait_ready(timeout=timeout), "the event feed never connected"


@dataclass
class Stream:
    """An open event stream; `next()` reads one event, keeping comments aside."""

    response: aiohttp.ClientResponse
    comments: list[str] = field(default_factory=list)
    received: list[Event] = field(default_factory=list)

    async def next(self, *, timeout: float = 10.0) -> Event | None:
        """The next event, None at the end of the stream."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    return None
                line = raw.decode().rstrip("\n")
                if line == "":
                    if fields:
                        event = Event(
                            int(fields["id"]) if "id" in fields else None,
                            fields.get("event", "message"),
                            json.loads(fields.get("data", "null")),
                        )
                        self.received.append(event)
                        return event
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value

    async def heartbeats(self, n: int, *, timeout: float = 10.0) -> None:
        """Read until `n` keep-alive comments came (failing on any event meanwhile)."""
        async with asyncio.timeout(timeout):
            while self.comments.count("keep-alive") < n:
                raw = await self.response.content.readline()
                assert raw, "the stream ended"
                line = raw.decode().rstrip("\n")
                assert line == "" or line.startswith(":"), f"unexpected line {line!r}"
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())

    async def take(self, n: int, *, timeout: float = 10.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            event = await self.next(timeout=max(deadline - time.monotonic(), 0.01))
            assert event is not None, f"the stream ended after {len(out)} of {n} events"
            out.append(event)
        return out

    async def ended(self, *, timeout: float = 10.0) -> list[Event]:
        """Every event until the server ends the stream."""
        out = []
        deadline = time.monotonic() + timeout
        while (event := await self.next(timeout=max(deadline - time.monotonic(), 0.01))) is not None:
            out.append(event)
        return out


@contextlib.asynccontextmanager
async def open_stream(
    client: aiohttp.ClientSession, query: str = "", *, headers: dict[str, str] | None = None
) -> AsyncIterator[Stream]:
    """A subscribed stream: once this returns, every transition committed later is delivered."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with client.get(f"/api/v1/events{query}", headers=headers, timeout=timeout) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        yield Stream(response)


async def stored_transitions(conn: asyncpg.Connection, after: int = 0) -> list[tuple[int, str, str, str]]:
    """(id, run id, step id, phase) of every stored transition after `after`, oldest first."""
    rows = await conn.fetch("SELECT id, run_id, step_id, to_phase FROM transitions WHERE id > $1 ORDER BY id", after)
    return [tuple(r) for r in rows]


def as_stored(received: list[Event]) -> list[tuple[int, str, str, str]]:
    return [(e.id, e.data["run_id"], e.data["step_id"] or "", e.data["to_phase"]) for e in received]


async def insert_transitions(conn: asyncpg.Connection, *, run_id: str, namespace: str, count: int) -> None:
    """`count` step transitions of one run in one statement: a burst no real ingest makes quickly."""
    await conn.execute(
        "INSERT INTO runs (id, namespace, name, phase, fp) VALUES ($1, $2, $1, 'Running', 0) ON CONFLICT DO NOTHING",
        run_id, namespace,
    )  # fmt: skip
    await conn.execute(
        """
        INSERT INTO transitions (run_id, step_id, from_phase, to_phase, at)
        SELECT $1, 'node-' || i, NULL, 'Running', now() FROM generate_series(1, $2) AS i
        """,
        run_id, count,
    )  # fmt: skip
