"""The live feed of run and step transitions: one Postgres listener per process, fanned out to
bounded subscriber queues.

The writer may run in another process than the API (``runledger run`` vs ``runledger api``), and
there may be several API replicas, so the feed is driven by the database. Every statement that
inserts transitions sends a notification, and transition ids become visible in commit order
(migration 0007), so "every row after id N" never skips a row that commits late. A notification
is only a wake-up: the listener then reads the rows after the last id it read, in bounded batches,
until it is caught up. If its connection goes away it reconnects with a jittered backoff and reads
from that same id again, so notifications missed meanwhile cost nothing, and subscribers, who stay
connected through the outage, see no gap.

Each subscriber has a filter and a bounded queue. Publishing never waits: a subscriber whose queue
is full is closed and its client told to resume with Last-Event-ID, so a slow client can neither
grow the server's memory nor hold the others up. An event is serialised once, whoever receives it.

A subscriber that resumes registers first and learns the id the listener had published up to at
that moment; every event it then receives live has a higher id. It replays the rows up to that id
from the table, then takes the live queue: no gap, no duplicate.

With hot standbys, LISTEN stays on the primary (a standby delivers no notifications), and the rows
are read through the read router from a standby that has replayed past the primary's WAL position
taken after the wake-up, so it shows every transition committed before it: the standby is waited
for (up to its lag bound) rather than read early, and the primary answers when none gets there. The
hub also keeps a primary position past the newest row it published, and a resuming subscriber's
replay waits for a standby to replay past it in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from runledger.core.backoff import Backoff
from runledger.core.lifecycle import Service
from runledger.store import connection as db
from runledger.store.read_routing import ReadRouter, Work, primary_position
from runledger.store.read_models import Timestamp, finite
from runledger.store.sql_blocks import q

log = logging.getLogger(__name__)

CHANNEL = "runledger_transitions"  # migration 0007 notifies here

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class TransitionEvent(BaseModel):
    """One phase change of a run or a step, as the `data` of an SSE event."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: int = Field(description="The transition's id; also the SSE event id to resume from.")
    run_id: str
    namespace: str
    workflow: str = Field(description="The workflow's name.")
    step_id: str | None = Field(description="Argo node id; null for the run itself.")
    step_name: str | None = Field(description="The step's display name, when the step is still recorded.")
    from_phase: str | None = Field(description="Null when the run or step was first seen.")
    to_phase: str
    at: Timestamp = Field(description="When the object says the phase was entered, else when it was observed.")
    observed_at: Timestamp


@dataclass(frozen=True, slots=True)
class Published:
    """An event as subscribers queue it: what filters look at, and the ready-to-send SSE frame."""

    id: int
    namespace: str
    run_id: str
    frame: bytes


def event_from_row(row: asyncpg.Record) -> TransitionEvent:
    return TransitionEvent(
        id=row["id"], run_id=row["run_id"], namespace=row["namespace"], workflow=row["workflow"],
        step_id=row["step_id"] or None, step_name=row["step_name"] if row["step_id"] else None,
        from_phase=row["from_phase"], to_phase=row["to_phase"],
        at=finite(row["at"]) or row["observed_at"], observed_at=row["observed_at"],
    )  # fmt: skip


def sse_frame(event: TransitionEvent) -> bytes:
    # model_dump_json never emits a raw newline, which would end the SSE `data` field.
    kind = "step" if event.step_id else "run"
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, kind.encode(), event.model_dump_json().encode())


def published(row: asyncpg.Record) -> Published:
    event = event_from_row(row)
    return Published(event.id, event.namespace, event.run_id, sse_frame(event))


@dataclass(frozen=True)
class Filter:
    """Which events a subscriber wants; None means no restriction on that field."""

    namespaces: frozenset[str] | None = None
    runs: frozenset[str] | None = None

    def admits(self, event: Published) -> bool:
        return (self.namespaces is None or event.namespace in self.namespaces) and (
            self.runs is None or event.run_id in self.runs
        )


class SubscriptionClosed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManySubscribers(Exception):
    pass


class FeedClosed(Exception):
    """The process is shutting down: no new subscriptions."""


OVERFLOW = "overflow"  # the subscriber fell behind and was dropped
SHUTDOWN = "shutdown"
_CLOSED = object()  # queued to wake a subscriber that was closed


class Subscription:
    def __init__(self, *, filter: Filter, queue_size: int, live_after: int, live_position: int | None = None) -> None:
        self.filter = filter
        # Every event this subscription receives live has an id above this one.
        self.live_after = live_after
        # A primary WAL position past the commit of `live_after` (None without a read router).
        self.live_position = live_position
        self.reason: str | None = None
        # Called (synchronously) when the hub closes the subscription: a handler blocked writing to
        # a client that does not read can only be released by aborting its connection.
        self.on_close: Callable[[str], None] | None = None
        self._queue: asyncio.Queue[Published | object] = asyncio.Queue(maxsize=queue_size)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def _offer(self, event: Published) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def _close(self, reason: str) -> None:
        if self.reason is not None:
            return
        self.reason = reason
        # What is queued will never be sent: free it now, and leave room for the wake-up.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)
        if self.on_close is not None:
            self.on_close(reason)

    async def next(self, *, timeout: float) -> list[Published]:
        """Everything queued, waiting up to `timeout` seconds for the first; [] if nothing came.

        Raises SubscriptionClosed once the hub has closed the subscription."""
        if self.reason is not None:
            raise SubscriptionClosed(self.reason)
        try:
            async with asyncio.timeout(timeout):
                first = await self._queue.get()
        except TimeoutError:
            return []
        items = [first]
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        if self.reason is not None:
            raise SubscriptionClosed(self.reason)
        return items  # type: ignore[return-value]


@dataclass
class FeedStats:
    connects: int = 0  # successful LISTENs, the first one included
    published: int = 0  # transitions read and fanned out
    dropped_slow: int = 0  # subscribers closed because their queue was full


class EventHub(Service):
    """The process's one listener and its subscribers: `async with` it, `subscribe()` to it.

    Leaving it ends every subscription (its client is told to resume) and stops the listener."""

    name = "event feed"

    def __init__(
        self,
        *,
        connect: Connect,
        batch_rows: int = 500,
        queue_size: int = 2000,
        max_subscribers: int = 1000,
        heartbeat_seconds: float = 15.0,
        poll_seconds: float = 30.0,
        reconnect_max_seconds: float = 10.0,
        query_timeout_seconds: float = 30.0,
        reads: ReadRouter | None = None,
    ) -> None:
        # A healthy client receives a whole batch before it can drain any of it.
        if queue_size < batch_rows:
            raise ValueError("queue_size must hold at least one batch (batch_rows)")
        super().__init__()
        self._connect = connect
        self._reads = reads  # None: rows are read on the listening connection
        self._position: int | None = None  # past the commit of the newest row published (with `reads`)
        self.batch_rows = batch_rows
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self.heartbeat_seconds = heartbeat_seconds
        self._poll_seconds = poll_seconds
        self._query_timeout = query_timeout_seconds
        self._subscriptions: set[Subscription] = set()
        self._last: int | None = None  # the newest id published; None until first connected
        self._ready = asyncio.Event()
        self._closing = False
        self._connected = False
        self._backoff = Backoff(0.1, reconnect_max_seconds)
        self.stats = FeedStats()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    @property
    def queued_events(self) -> int:
        """Events waiting in subscribers' queues: what the feed holds in memory for its readers."""
        return sum(sub.queued for sub in self._subscriptions)

    @property
    def last_id(self) -> int | None:
        return self._last

    # --- lifecycle ---------------------------------------------------------------------------

    async def _start(self) -> None:
        self._closing = False
        self.spawn(self._listen_forever(), name="event-feed-listener")

    def close_subscribers(self) -> None:
        """End every open subscription and refuse new ones (the first step of shutting down)."""
        self._closing = True
        self._ready.set()  # release requests still waiting for the first connection
        for sub in list(self._subscriptions):
            self._end(sub, SHUTDOWN)

    async def _quiesce(self) -> None:
        self.close_subscribers()

    async def wait_ready(self, *, timeout: float) -> bool:
        """True once the listener has connected (ever); False on timeout or shutdown."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        return self._last is not None and not self._closing

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self, filter: Filter) -> Subscription:
        if self._closing:
            raise FeedClosed
        if self._last is None:
            raise RuntimeError("subscribe after wait_ready()")
        if len(self._subscriptions) >= self.max_subscribers:
            raise TooManySubscribers
        sub = Subscription(filter=filter, queue_size=self.queue_size, live_after=self._last,
                           live_position=self._position)  # fmt: skip
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def _end(self, sub: Subscription, reason: str) -> None:
        self._subscriptions.discard(sub)
        sub._close(reason)

    def _publish(self, events: list[Published]) -> None:
        for sub in list(self._subscriptions):
            for event in events:
                if sub.filter.admits(event) and not sub._offer(event):
                    self.stats.dropped_slow += 1
                    log.info("event feed: a subscriber fell %d events behind; closing it", self.queue_size)
                    self._end(sub, OVERFLOW)
                    break
        self.stats.published += len(events)

    # --- the listener ------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except Exception as exc:  # CancelledError is not an Exception: shutdown goes through
                if db.is_transient(exc):
                    log.warning("event feed: database connection lost (%s); reconnecting", exc)
                else:
                    log.exception("event feed: listener failed; reconnecting")
            await asyncio.sleep(self._backoff.next())

    async def _listen(self) -> None:
        conn = await self._connect()
        wake = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: wake.set())
            await conn.add_listener(CHANNEL, lambda *_: wake.set())
            if self._last is None:
                # Read after LISTEN: anything committed later is both notified and above this id.
                self._last = await conn.fetchval(q("newest_transition_id"), timeout=self._query_timeout)
                self._position = await self._primary_position(conn)
            else:
                log.info("event feed: reconnected; catching up after transition %d", self._last)
            self._connected = True
            self._backoff.reset()
            self.stats.connects += 1
            self._ready.set()
            while True:
                wake.clear()  # before reading, so a notification arriving meanwhile means "read again"
                await self._catch_up(conn)
                if conn.is_closed():
                    raise ConnectionError("the listening connection closed")
                # The periodic read also finds a connection that died silently.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_seconds):
                        await wake.wait()
        finally:
            self._connected = False
            await _close(conn)

    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        # Taken before the rows are read anywhere: past every commit notified so far.
        position = await self._primary_position(conn)
        if not self._subscriptions:
            # Nobody to send rows to: skip them rather than read every transition the writer stores.
            newest = await conn.fetchval(q("newest_transition_id"), timeout=self._query_timeout)
            past_it = await self._primary_position(conn)
            if not self._subscriptions:  # still nobody: no one holds a live_after below `newest`
                self._last, self._position = max(self._last, newest), past_it
                return
        while True:
            rows = await self._fetch(conn, lambda c, after=self._last: c.fetch(
                q("transitions_after"), after, self.batch_rows, timeout=self._query_timeout), position=position)  # fmt: skip
            if not rows:
                return
            # Read after the rows: past their commits, for the replay of those who subscribe next.
            past_them = await self._primary_position(conn)
            # No await between publishing and moving _last: subscribe() reads it as "published up to".
            self._publish([published(r) for r in rows])
            self._last, self._position = rows[-1]["id"], past_them
            if len(rows) < self.batch_rows:
                return
            await asyncio.sleep(0)  # let subscribers' handlers drain their queues between batches

    async def _primary_position(self, conn: asyncpg.Connection) -> int | None:
        return await primary_position(conn) if self._reads is not None else None

    async def _fetch(self, conn: asyncpg.Connection, work: Work[list[asyncpg.Record]], *,
                     position: int | None) -> list[asyncpg.Record]:  # fmt: skip
        if self._reads is None:
            return await work(conn)
        return await self._reads.read(work, replayed_past=position, patience=self._reads.bound)

    async def replay(self, sub: Subscription, *, after: int) -> AsyncIterator[list[Published]]:
        """`sub`'s events with ids in (after, sub.live_after], in batches, oldest first.

        A connection is taken per batch, so a client reading slowly holds no pooled connection."""
        if self._reads is None:
            raise RuntimeError("replay needs a read router")
        namespaces = sorted(sub.filter.namespaces) if sub.filter.namespaces is not None else None
        runs = sorted(sub.filter.runs) if sub.filter.runs is not None else None
        while after < sub.live_after:
            query = (q("replay_transitions"), after, sub.live_after, namespaces, runs, self.batch_rows)
            rows = await self._reads.read(lambda c, query=query: c.fetch(*query), replayed_past=sub.live_position,
                                          patience=self._reads.bound)  # fmt: skip
            if not rows:
                return
            yield [published(r) for r in rows]
            after = rows[-1]["id"]
            if len(rows) < self.batch_rows:
                return


async def _close(conn: asyncpg.Connection) -> None:
    if conn.is_closed():
        return
    try:
        await conn.close(timeout=2)
    except Exception:
        conn.terminate()
    except asyncio.CancelledError:
        conn.terminate()
        raise


def pool_connector(pool: asyncpg.Pool) -> Connect:
    """Opens connections like the pool's own, but outside it.

    LISTEN needs a connection of its own for as long as the process runs: a pooled one would take a
    slot from requests, and the pool resets connections (UNLISTEN) when they are released. asyncpg
    keeps the arguments a pool connects with but offers no getter for them, hence the private read.
    """
    args, kwargs = list(pool._connect_args), dict(pool._connect_kwargs)  # noqa: SLF001

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(*args, **kwargs)

    return connect
