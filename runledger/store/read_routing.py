"""Where a read runs: a hot standby that is recent enough, else the primary.

Every read of the API goes through one ``ReadRouter.read(work)``: it picks a target, opens the
request's read-only snapshot there and runs ``work(conn)`` in it. Targets are the standbys of
RUNLEDGER_DATABASE_REPLICA_URLS and, last, the primary. A standby is chosen only while it is
``ok``: reachable, still in recovery (not promoted), and no further behind the primary than
RUNLEDGER_REPLICA_MAX_LAG_SECONDS. Among those the least busy one takes the read (ties in turn).

How far behind: the monitor (a long-running part of its own) samples the primary's flushed WAL
position five times per lag bound (at most once a second) and keeps a short history of (time, position). A
standby that has replayed the position the primary had at time t holds every transaction committed
before t, so its lag is the age of the newest sample it has replayed. Positions, not the standby's
last replayed commit time, because an idle primary commits nothing and a current standby would look
old. When the primary does not answer, a standby falls back to its own view (current when it has
replayed all it received, else as old as the last commit it replayed).

Monitoring alone would leave a window between two checks, so each read on a standby checks again,
first thing in its snapshot: the standby must still be in recovery and have replayed what the
primary had flushed one lag bound ago. A standby that fails that check, or fails in the middle of
the read (stopped, a recovery conflict cancelled the query), is left out and the read runs again on
the next target: reads are idempotent, and the client never sees the error.
Only the primary's failure reaches the caller.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import asyncpg

from runledger.core.lifecycle import Service
from runledger.core.settings import ApiSettings, DatabaseSettings
from runledger.store import connection as db
from runledger.store.sql_blocks import q

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[asyncpg.Connection], Awaitable[T]]

OK, LAGGING, DOWN, PROMOTED, UNKNOWN = "ok", "lagging", "down", "promoted", "unknown"
STATES = (OK, LAGGING, DOWN, PROMOTED, UNKNOWN)
PRIMARY, STANDBY = "primary", "standby"
# How often a read that must see a given position polls a standby that is not there yet.
_REPLAY_POLL_SECONDS = 0.005


@dataclass(eq=False)
class Target:
    """One server reads may go to, with what the monitor and the reads learnt about it."""

    name: str  # host:port/database, no credentials: shown in /readyz and /metrics
    role: str
    pool: asyncpg.Pool
    state: str = UNKNOWN
    lag_seconds: float | None = None
    detail: str = ""
    in_flight: int = 0
    reads: int = 0  # reads answered here
    retried: int = 0  # reads that failed here and ran again elsewhere


@dataclass
class _Positions:
    """The primary's flushed WAL positions, sampled by the monitor: (monotonic time sent, lsn)."""

    # A minute of samples: enough to tell how far behind a standby that fell well past the bound is.
    samples: collections.deque[tuple[float, int]] = field(default_factory=lambda: collections.deque(maxlen=600))

    def add(self, *, at: float, lsn: int) -> None:
        self.samples.append((at, lsn))

    def required(self, *, bound: float, now: float) -> int | None:
        """What a standby must have replayed to hold every commit older than `bound` seconds: the
        first position sampled within the bound (the primary was at least there `bound` ago). None
        when no sample is that recent (the primary is not answering)."""
        found = None
        for at, lsn in reversed(self.samples):  # newest first: a few samples fit in the bound
            if at < now - bound:
                break
            found = lsn
        return found

    def age_of(self, replayed: int, *, now: float) -> float | None:
        """How old a standby that replayed `replayed` is: the age of the newest sample it holds."""
        for at, lsn in reversed(self.samples):
            if lsn <= replayed:
                return max(0.0, now - at)
        return None if not self.samples else now - self.samples[0][0]


class ReadRouter(Service):
    """The standbys and the primary reads are spread over, and the monitor that measures them."""

    name = "read router"
    grace = 0.0

    def __init__(self, *, primary: asyncpg.Pool, database: DatabaseSettings, api: ApiSettings) -> None:
        super().__init__()
        self._database = database
        self._statement_timeout_ms = int(api.statement_timeout_ms)
        self.bound = database.replica_max_lag_seconds
        # Often enough that a standby falling behind is seen well within the bound; each read checks too.
        self.check_seconds = min(1.0, self.bound / 5)
        self.primary = Target(name="primary", role=PRIMARY, pool=primary, state=UNKNOWN)
        self.standbys: list[Target] = []
        self._dsns = database.replicas
        self._positions = _Positions()
        self._turn = itertools.count()

    @property
    def targets(self) -> list[Target]:
        return [*self.standbys, self.primary]

    async def _start(self) -> None:
        for dsn in self._dsns:
            # min_size 0: a standby that is down at start-up does not keep the API from starting;
            # a short connect timeout: one that does not answer costs a read little before it moves on.
            pool = await db.create_pool(dsn, database=self._database, min_size=0, timeout=2)
            self.standbys.append(Target(name=target_name(dsn), role=STANDBY, pool=pool))
        if self.standbys:
            await self._check_all()  # before the first read, so it can already go to a standby
            self.spawn(self._monitor(), name="replica-monitor")
        else:
            self.primary.state = OK

    async def _close(self) -> None:
        for target in self.standbys:
            try:
                async with asyncio.timeout(5):
                    await target.pool.close()
            except TimeoutError:
                target.pool.terminate()  # a standby that stopped answering holds no one up
        self.standbys.clear()

    # --- reads ------------------------------------------------------------------------------

    async def read(self, work: Work[T], *, custom_plans: bool = False, memoize: bool = True,
                   one_statement: bool = False, replayed_past: int | None = None,
                   patience: float = 0.0) -> T:  # fmt: skip
        """`work(conn)` in a read-only snapshot on the first target that can take it.

        `custom_plans`: the statements bind user filters (plan each anew; see begin_snapshot).
        `memoize`: whether plans may memoize the inner side of a join (see begin_snapshot).
        `one_statement`: `work` runs a single statement, which is a consistent snapshot by itself:
        it runs outside a transaction, saving BEGIN's and COMMIT's round trips (see _read_on).
        `replayed_past`: the snapshot must show everything up to this primary WAL position; a standby
        not there yet is waited for up to `patience` seconds before the next target is tried."""
        limits = _limits(timeout_ms=self._statement_timeout_ms, custom_plans=custom_plans, memoize=memoize,
                         one_statement=one_statement)  # fmt: skip
        for target in self._candidates():
            last = target is self.primary
            target.in_flight += 1
            try:
                result = await self._read_on(target, work, limits=limits, one_statement=one_statement,
                                             replayed_past=replayed_past, patience=patience)  # fmt: skip
            except Exception as exc:
                if last or not db.is_transient(exc):
                    raise
                self._left_out(target, state=DOWN, detail=_describe(exc))
                continue
            finally:
                target.in_flight -= 1
            if result is not _STALE:
                target.reads += 1
                return result  # type: ignore[return-value]
        raise AssertionError("the primary is always the last candidate")

    def _candidates(self) -> list[Target]:
        ready = [t for t in self.standbys if t.state == OK]
        turn = next(self._turn)
        # Least busy first; among equals, in turn, so an idle API still spreads its reads.
        ready.sort(key=lambda t: (t.in_flight, (self.standbys.index(t) - turn) % len(self.standbys)))
        return [*ready, self.primary]

    async def _read_on(self, target: Target, work: Work[T], *, limits: str, one_statement: bool,
                       replayed_past: int | None, patience: float) -> T | object:  # fmt: skip
        standby = target.role == STANDBY
        async with db.acquire_for_reads(target.pool) as conn:
            if standby and patience > 0 and replayed_past is not None:
                await _wait_replayed(conn, replayed_past, patience=patience)  # outside the snapshot, which starts later
            if one_statement:
                # Session settings, set when the connection's differ (once per connection and kind of
                # read), then the statement alone. On a standby the freshness check is a statement
                # of its own: replay only moves forward, so the read sees at least what it checked.
                await conn.set_read_settings(limits)
                if standby and not await self._fresh(target, conn, replayed_past=replayed_past):
                    return _STALE
                result = await work(conn)
            else:
                # By hand rather than conn.transaction(): BEGIN and the limits go in one round trip;
                # a failure rolls back before the connection goes back.
                await conn.execute(limits)
                try:
                    if standby and not await self._fresh(target, conn, replayed_past=replayed_past):
                        await _roll_back(conn)
                        return _STALE
                    result = await work(conn)
                except BaseException:
                    await _roll_back(conn)
                    raise
                await conn.execute("COMMIT")
            # Only reads and SET LOCAL, or the read settings the next read wants too (any other user
            # of the connection gets them reset): the pool's reset would be a round trip for nothing.
            conn.leaves_nothing_to_reset()
            return result

    async def _fresh(self, target: Target, conn: asyncpg.Connection, *, replayed_past: int | None) -> bool:
        row = await conn.fetchrow(q("standby_is_fresh"), self._required(replayed_past), self.bound)
        if not row["fresh"]:
            self._left_out(target, state=LAGGING if row["standby"] else PROMOTED, detail="seen by a read")
        return row["fresh"]

    def _required(self, replayed_past: int | None) -> int | None:
        bound = self._positions.required(bound=self.bound, now=time.monotonic())
        if replayed_past is None or bound is None:
            return bound if replayed_past is None else replayed_past
        return max(bound, replayed_past)

    def _left_out(self, target: Target, *, state: str, detail: str) -> None:
        target.retried += 1
        if target.state != state:
            log.warning("read router: standby %s is %s (%s); reading elsewhere until it is back", target.name,
                        state, detail)  # fmt: skip
        target.state, target.detail = state, detail

    # --- the monitor ------------------------------------------------------------------------

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            await self._check_all()

    async def _check_all(self) -> None:
        timeout = max(self.check_seconds, 1.0)
        sent = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                lsn = (await _position(self.primary.pool, "primary_wal_position"))[0]
            self._positions.add(at=sent, lsn=lsn)
            self._set(self.primary, OK, lag=0.0, detail="")
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is shown and measured again next time
            self._set(self.primary, DOWN, lag=None, detail=_describe(exc))
        await asyncio.gather(*(self._check(t, timeout=timeout) for t in self.standbys))

    async def _check(self, target: Target, *, timeout: float) -> None:
        primary_known = self._positions.required(bound=self.bound, now=time.monotonic()) is not None
        try:
            async with asyncio.timeout(timeout):
                row = await _position(target.pool, "standby_position")
        except Exception as exc:  # noqa: BLE001 - a misconfigured standby (a wrong password) gets no reads, and says why
            self._set(target, DOWN, lag=None, detail=_describe(exc))
            return
        if not row["standby"]:
            self._set(target, PROMOTED, lag=None, detail="no longer in recovery: it is a primary now")
            return
        if primary_known:
            lag = self._positions.age_of(row["replayed"], now=time.monotonic())
        else:
            lag = row["own_lag_seconds"]
        if lag is None or lag > self.bound:
            self._set(target, LAGGING, lag=lag, detail=f"more than {self.bound:g}s behind the primary")
        else:
            self._set(target, OK, lag=lag, detail="")

    def _set(self, target: Target, state: str, *, lag: float | None, detail: str) -> None:
        if state != target.state and target.state != UNKNOWN:
            how = log.info if state == OK else log.warning
            how("read router: %s %s is %s%s", target.role, target.name, state, f" ({detail})" if detail else "")
        target.state, target.lag_seconds, target.detail = state, lag, detail


@functools.cache
def _limits(*, timeout_ms: int, custom_plans: bool, memoize: bool, one_statement: bool) -> str:
    """The SQL that begins a snapshot and limits it, or, for one statement, sets the same limits on the session."""
    return q("read_session" if one_statement else "begin_snapshot", timeout_ms=str(timeout_ms),
             plan_cache_mode="force_custom_plan" if custom_plans else "auto",
             enable_memoize="on" if memoize else "off")  # fmt: skip


async def _roll_back(conn: asyncpg.Connection) -> None:
    if conn.is_closed() or not conn.is_in_transaction():
        return
    try:
        await conn.execute("ROLLBACK")
    except Exception as exc:
        if not db.is_transient(exc):
            raise
        # The connection broke: the pool discards it, and the read's own failure is the one to report.


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


_STALE = object()  # the standby is not recent enough for this read: try the next target


async def _wait_replayed(conn: asyncpg.Connection, lsn: int, *, patience: float) -> None:
    deadline = time.monotonic() + patience
    while not await conn.fetchval(q("replayed_past"), lsn) and time.monotonic() < deadline:
        await asyncio.sleep(_REPLAY_POLL_SECONDS)


async def primary_position(conn: asyncpg.Connection) -> int:
    """Where the primary's WAL ends now, flushed or not (asyncpg reads a pg_lsn as an int): a
    standby that replayed past it shows every commit the primary reported before."""
    return await conn.fetchval(q("primary_insert_position"))


def target_name(dsn: str) -> str:
    """host:port/database of a DSN, never its credentials (a socket directory counts as host)."""
    parts = urlsplit(dsn)
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    port = parts.port or parse_qs(parts.query).get("port", ["5432"])[0]
    return f"{host}:{port}{parts.path or '/'}"


async def _position(pool: asyncpg.Pool, query: str) -> asyncpg.Record:
    # A read of one short statement: the connection keeps the settings reads left on it, as a read's does,
    # instead of a reset every check and the reads' SETs again after it.
    async with db.acquire_for_reads(pool) as conn:
        row = await conn.fetchrow(q(query))
        conn.leaves_nothing_to_reset()
        return row
