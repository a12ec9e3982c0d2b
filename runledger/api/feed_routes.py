"""GET /api/v1/events: run and step transitions as Server-Sent Events, for dashboards.

    GET /api/v1/events?namespace=a&namespace=b&run=<run id>
    Last-Event-ID: 1234            (or ?last_event_id=1234 for clients that cannot set headers)

Each event is ``id: <transition id>``, ``event: run`` or ``event: step`` and ``data:`` a
TransitionEvent as JSON. Without Last-Event-ID the stream starts now; with it, every matching
transition after that id is replayed from the table before the live events, none twice. A comment
line every few seconds keeps proxies from closing a quiet stream (and finds clients that left).

A stream ends after RUNLEDGER_EVENTS_STREAM_MAX_SECONDS: the client reconnects with Last-Event-ID,
losing nothing, and is authorized again, so a revoked right or an expired token does not keep a
stream open, and a namespace that appeared meanwhile becomes visible.

A client that falls behind is closed with a final ``event: overflow`` naming the last id it was
sent, unless it is so slow that it cannot even take that: then its connection is aborted. Either
way it reconnects with Last-Event-ID and loses nothing (EventSource does this by itself). When the
app shuts down every stream ends, so aiohttp's wait for running handlers is short.

The hub (runledger/store/transition_feed.py) lives for the app: a cleanup context starts and stops it,
and an on_shutdown hook ends the streams before aiohttp waits for their handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from runledger.api import auth, app_keys, prometheus
from runledger.api.responses import error_response
from runledger.store import connection as db
from runledger.store import transition_feed as feed
from runledger.store.read_errors import BadRequest
from runledger.store.sql_blocks import q

HUB = web.AppKey("event_hub", feed.EventHub)
# EventHub keyword arguments overriding the settings' (tests: poll_seconds, reconnect_max_seconds, ...).
HUB_OPTIONS = web.AppKey("event_hub_options", dict[str, Any])

PATH = "/api/v1/events"
MAX_FILTER_VALUES = 100
MAX_EVENT_ID = 2**63 - 1
READY_TIMEOUT_SECONDS = 10.0  # a request arriving before the listener first connected waits this long
FINAL_WRITE_TIMEOUT_SECONDS = 5.0
_QUERY_KEYS = {"namespace", "run", "last_event_id"}

log = logging.getLogger(__name__)


def parse_event_id(value: str, *, where: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > MAX_EVENT_ID:
        raise BadRequest(f"{where}: an event id is a non-negative integer, as sent in `id:` lines")
    return int(value)


def _values(request: web.Request, name: str) -> frozenset[str] | None:
    values = request.rel_url.query.getall(name, [])
    if not values:
        return None
    if len(values) > MAX_FILTER_VALUES or any(not v or len(v) > 253 for v in values):
        raise BadRequest(f"{name}: give 1 to {MAX_FILTER_VALUES} values of 1 to 253 characters")
    return frozenset(values)


def parse_filter(request: web.Request) -> tuple[feed.Filter, int | None]:
    """The requested filter and the id to resume after (None: start now)."""
    query = request.rel_url.query
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    if len(query.getall("last_event_id", [])) > 1:
        raise BadRequest("last_event_id: give it once")
    # EventSource reconnects with the URL it started with plus the header: the header is newer.
    header = request.headers.get("Last-Event-ID", "").strip()
    if header:
        resume: int | None = parse_event_id(header, where="Last-Event-ID")
    elif query.get("last_event_id"):
        resume = parse_event_id(query["last_event_id"], where="last_event_id")
    else:
        resume = None
    return feed.Filter(namespaces=_values(request, "namespace"), runs=_values(request, "run")), resume


async def stream_events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    requested, resume = parse_filter(request)
    if requested.namespaces is not None:
        # Naming a namespace one may not read is a 403, as for the run lists, not a stream that stays silent.
        for namespace in sorted(requested.namespaces):
            await auth.require_namespace(request, namespace)
        namespaces = requested.namespaces
    else:
        namespaces = await auth.visible_namespaces(request)
    if not await hub.wait_ready(timeout=READY_TIMEOUT_SECONDS):
        return error_response(503, "unavailable", "the event feed is not connected to the database yet")
    try:
        sub = hub.subscribe(feed.Filter(namespaces=namespaces, runs=requested.runs))
    except feed.TooManySubscribers:
        return error_response(503, "unavailable", "too many event streams are open; retry later")
    except feed.FeedClosed:
        return error_response(503, "unavailable", "the server is shutting down")
    try:
        return await _Stream(request, hub, sub).run(resume)
    finally:
        hub.unsubscribe(sub)


class _Stream:
    def __init__(self, request: web.Request, hub: feed.EventHub, sub: feed.Subscription) -> None:
        self.request, self.hub, self.sub = request, hub, sub
        self.response = web.StreamResponse(headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.response.content_type = "text/event-stream"
        self.sent = 0  # the id of the newest event sent
        self.writing = False
        sub.on_close = self._on_close

    def _on_close(self, reason: str) -> None:
        # Suspended in a write means the client is not taking bytes: nothing more can reach it.
        if self.writing:
            self._abort()

    def _abort(self) -> None:
        if self.request.transport is not None:
            self.request.transport.abort()

    async def _write(self, data: bytes) -> None:
        self.writing = True
        try:
            await self.response.write(data)
        finally:
            self.writing = False

    async def run(self, resume: int | None) -> web.StreamResponse:
        if resume is None:
            # "Now" is what is committed now, not what the listener has read so far: transitions
            # committed just before subscribing may still be on their way to it. Ids follow commit
            # order, so the newest id marks exactly what a new stream must not be sent.
            async with self.request.app[app_keys.POOL].acquire() as conn:
                resume = max(self.sub.live_after, await conn.fetchval(q("newest_transition_id")))
            replay = False
        else:
            replay = True
        await self.response.prepare(self.request)
        try:
            await self._write(b": subscribed\n\n")  # sends the headers now, not with the first event
            self.sent = resume
            if replay and await self._replay():
                self.sent = max(self.sent, self.sub.live_after)
            await self._live()
        except ConnectionError:
            pass  # the client left, or was cut off for being too slow
        except Exception as exc:
            # The headers are sent: an error response is no longer possible, ending the stream is,
            # and the client resumes with Last-Event-ID.
            if db.is_transient(exc):
                log.warning("event stream: the database is unavailable (%s); ending the stream", exc)
            else:
                log.exception("event stream failed; ending it")
        return self.response

    async def _replay(self) -> bool:
        """Send the missed events up to where the live queue starts; False if the subscription closed first."""
        batches = self.hub.replay(self.sub, after=self.sent)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                if self.sub.reason is not None:
                    return False  # dropped or shutting down: _live() says so
                await self._write(b"".join(e.frame for e in batch))
                self.sent = batch[-1].id
        return self.sub.reason is None

    async def _live(self) -> None:
        ends = time.monotonic() + self.request.app[app_keys.EVENTS_SETTINGS].stream_max_seconds
        while (left := ends - time.monotonic()) > 0:
            try:
                batch = await self.sub.next(timeout=min(self.hub.heartbeat_seconds, left))
            except feed.SubscriptionClosed as closed:
                if closed.reason == feed.OVERFLOW:
                    await self._say_resume()
                return
            if not batch:
                await self._write(b": keep-alive\n\n")
                continue
            frames = [e.frame for e in batch if e.id > self.sent]
            if frames:
                self.sent = batch[-1].id
                await self._write(b"".join(frames))

    async def _say_resume(self) -> None:
        # No `id:` line: the client's last event id stays the last transition it received.
        body = orjson.dumps(
            {"last_event_id": self.sent, "message": "this client fell behind; reconnect with Last-Event-ID"}
        )
        try:
            async with asyncio.timeout(FINAL_WRITE_TIMEOUT_SECONDS):
                await self._write(b"event: overflow\ndata: " + body + b"\n\n")
        except TimeoutError:
            self._abort()


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    events = app[app_keys.EVENTS_SETTINGS]
    options: dict[str, Any] = {
        "heartbeat_seconds": events.heartbeat_seconds,
        "queue_size": max(events.queue_size, events.batch_rows),
        "max_subscribers": events.max_subscribers,
        "batch_rows": events.batch_rows,
    }
    hub = feed.EventHub(connect=feed.pool_connector(app[app_keys.POOL]), reads=app[app_keys.READS],
                        **{**options, **app.get(HUB_OPTIONS, {})})  # fmt: skip
    app[HUB] = hub
    sources = app[prometheus.TELEMETRY].sources
    async with hub:
        sources["event_feed"] = functools.partial(prometheus.event_feed_metrics, hub)
        try:
            yield
        finally:
            sources.pop("event_feed", None)


async def _end_streams(app: web.Application) -> None:
    if HUB in app:
        app[HUB].close_subscribers()


def add_routes(app: web.Application) -> None:
    # A HEAD would subscribe and then stream nothing, forever.
    app.router.add_get(PATH, stream_events, allow_head=False)
    app.cleanup_ctx.append(_hub_ctx)
    app.on_shutdown.append(_end_streams)
