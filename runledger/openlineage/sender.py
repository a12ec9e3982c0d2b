"""The sender: drains the OpenLineage outbox to the transport, each run's events in order.

A round takes the oldest unsent events (transition id order), renders them from what is stored, sends
each run's in order (different runs in parallel, up to 8 by default) and marks
them: acknowledged ones sent, the rest failed with their error. A run whose event was not acknowledged
stops there for the round, so its later events never overtake it. A round with failures is followed by
the one backoff (core/backoff.py): an endpoint down for an hour is retried, capped at a
minute, and loses nothing; the outbox just grows meanwhile.

Several senders are safe: a round runs under a Postgres advisory lock, so one sends at a time (the
others wait for the next poll), whichever replica or process they are in. The acknowledged events of a
round are marked even when the sender is stopped in the middle (the mark is shielded); only a crash
between an acknowledgement and its mark sends that event again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from runledger.core.backoff import Backoff
from runledger.core.lifecycle import Service
from runledger.openlineage.event_rendering import render
from runledger.openlineage.transports import TIMEOUT_SECONDS, Outcome, Transport
from runledger.store import openlineage_outbox as outbox
from runledger.store.connection import is_retried_by_pollers

log = logging.getLogger(__name__)


@dataclass
class SenderStats:
    sent: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # kind -> events: retried | refused | unrenderable
    backlog: int = 0  # events waiting, as of the last round


class LineageSender(Service):
    name = "openlineage-sender"

    def __init__(
        self, *, pool: asyncpg.Pool, transport: Transport, batch: int = 500, poll_seconds: float = 1.0,
        concurrency: int = 8, retry_max_seconds: float = 60.0,
    ) -> None:  # fmt: skip
        super().__init__()
        self._concurrency = concurrency  # runs whose events are sent in parallel (each run's in order)
        self._batch = batch  # events taken from the outbox at a time
        self._poll_seconds = poll_seconds  # how often an empty outbox is looked at again
        self._pool = pool
        self._transport = transport
        self._stopping = asyncio.Event()
        self._between_rounds = asyncio.Event()
        # Waits while the endpoint fails or is unreachable, up to a minute by default.
        self._backoff = Backoff(min(1.0, retry_max_seconds), retry_max_seconds)
        self.stats = SenderStats()
        self.grace = TIMEOUT_SECONDS + 5

    async def _start(self) -> None:
        self.spawn(self._loop(), name="openlineage-send")

    async def _quiesce(self) -> None:
        self._stopping.set()

    async def _finish(self) -> None:
        # The round in flight ends and marks what it sent; then the loop is stopped between rounds.
        await self._between_rounds.wait()

    async def _close(self) -> None:
        await self._transport.close()

    async def _loop(self) -> None:
        while True:
            if self._stopping.is_set():
                self._between_rounds.set()
                await asyncio.Future()  # parked until the lifecycle cancels it
            try:
                taken, failed = await self.round()
            except Exception as exc:
                if not is_retried_by_pollers(exc):
                    raise
                log.warning("openlineage: database unavailable (%s); retrying", exc)
                taken, failed = 0, True
            if failed:
                delay = self._backoff.next()
            else:
                self._backoff.reset()
                delay = 0 if taken >= self._batch else self._poll_seconds
            if delay:
                try:
                    async with asyncio.timeout(delay):
                        await self._stopping.wait()
                except TimeoutError:
                    pass

    async def round(self) -> tuple[int, bool]:
        """Send one batch: (events taken, whether any failed)."""
        async with self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", outbox.SENDER_LOCK):
                return 0, False  # another sender is at it
            try:
                return await self._round(conn)
            finally:
                await asyncio.shield(conn.execute("SELECT pg_advisory_unlock($1)", outbox.SENDER_LOCK))

    async def _round(self, conn: asyncpg.Connection) -> tuple[int, bool]:
        ids = await outbox.unsent(conn, limit=self._batch)
        self.stats.backlog = await outbox.backlog(conn) if ids else 0
        if not ids:
            return 0, False
        found = await outbox.facts(conn, ids)
        runs: dict[str, list[tuple[int, bytes]]] = {}  # run id -> its events, in transition id order
        unrenderable: list[tuple[int, str, bool]] = []
        for facts in found:
            events = runs.setdefault(facts.run_id, [])
            try:
                events.append((facts.transition_id, render(facts)))
            except (ValueError, TypeError) as exc:  # stored values the model refuses: counted, never retried
                log.warning("openlineage: transition %s cannot be rendered: %s", facts.transition_id, exc)
                unrenderable.append((facts.transition_id, f"unrenderable: {exc}"[:500], True))
        gone = set(ids) - {f.transition_id for f in found}  # its run no longer stored: nothing to say
        unrenderable += [(i, "no such transition or run", True) for i in sorted(gone)]
        results: dict[int, Outcome] = {}
        try:
            await self._send_runs(list(runs.values()), results)
        finally:
            # Shielded: what the endpoint acknowledged is marked even if we are being stopped.
            await asyncio.shield(self._mark(conn, results, unrenderable))
        return len(ids), any(not o.sent and not o.refused for o in results.values())

    async def _send_runs(self, runs: list[list[tuple[int, bytes]]], results: dict[int, Outcome]) -> None:
        limit = asyncio.Semaphore(self._concurrency)

        async def send(events: list[tuple[int, bytes]]) -> None:
            async with limit:
                outcomes = await self._transport.send_run([body for _, body in events])
            for (transition_id, _), outcome in zip(events, outcomes, strict=False):
                results[transition_id] = outcome

        async with asyncio.TaskGroup() as group:
            for events in runs:
                if events:
                    group.create_task(send(events), name="openlineage-send-run")

    async def _mark(self, conn: asyncpg.Connection, results: dict[int, Outcome],
                    unrenderable: list[tuple[int, str, bool]]) -> None:  # fmt: skip
        sent = [i for i, o in results.items() if o.sent]
        failed = [(i, o.error or "not acknowledged", o.refused) for i, o in results.items() if not o.sent]
        await outbox.mark_sent(conn, sent)
        await outbox.mark_failed(conn, failed + unrenderable)
        self.stats.sent += len(sent)
        for _, error, refused in failed:
            self.stats.failed["refused" if refused else "retried"] += 1
        if unrenderable:
            self.stats.failed["unrenderable"] += len(unrenderable)
        if failed:
            log.warning("openlineage: %d event(s) not delivered (%s)", len(failed), failed[0][1])
