"""Connection layer: the asyncpg pool, its codecs, and which errors mean "the database is away".

Everything above this module talks to Postgres through a pool created here, so jsonb decoding,
statement timeouts and the classification of transient failures are decided once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import asyncpg.exceptions._base
import orjson

from runledger.core.settings import DatabaseSettings

log = logging.getLogger(__name__)

# Failures after which the same statement may well succeed later: the server is restarting,
# unreachable, overloaded, or our connection broke. Anything else is about the data or the SQL.
# Every component asks is_transient(); none keeps a list of its own, so they cannot disagree.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, a missing socket file; TimeoutError is one too
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError: closed in the middle of an operation
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing"
    # A connection broken mid-protocol (a reply cut short, a message out of turn) leaves asyncpg's
    # protocol in a state it refuses to leave: "cannot switch to state 15". The pool drops it.
    asyncpg.exceptions._base.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DiskFullError,  # an operator makes room and the same write succeeds
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)

# InterfaceErrors that are about the request, not the connection: retrying them repeats the failure.
NOT_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.exceptions._base.DataError,  # an argument that cannot be encoded
    asyncpg.exceptions._base.ClientConfigurationError,
    asyncpg.exceptions._base.UnsupportedClientFeatureError,
    asyncpg.exceptions._base.UnsupportedServerFeatureError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` means "the database is away or the connection broke": retry, or answer 503."""
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, NOT_TRANSIENT)


def is_retried_by_pollers(exc: BaseException) -> bool:
    """Transient, or a statement cancelled (its timeout, a lock wait): what a loop that polls a
    queue retries. A writer must not: it would retry one oversized batch forever, so it splits it."""
    return is_transient(exc) or isinstance(exc, asyncpg.QueryCanceledError)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


class Connection(asyncpg.Connection):
    """asyncpg's connection, which a user that leaves no session state behind can hand back as such,
    and which remembers the session settings reads left on it.

    A pool resets every connection it takes back (UNLISTEN, RESET ALL, CLOSE ALL, advisory unlocks):
    a round trip per use, after the answer is known and before the response leaves. A read that ran
    in its own snapshot, changing settings with SET LOCAL only, has nothing for it to undo. A read of
    one statement runs without a transaction, under session settings (read-only, its time limit)
    that stay on the connection for the next read: set once, not per request. Any other user that
    takes such a connection gets it reset first (see _setup).
    """

    _nothing_to_reset = False
    _read_settings: str | None = None  # the SET statements reads left in force on this session

    def leaves_nothing_to_reset(self) -> None:
        """Skip the reset when this connection next goes back to its pool (once: it is cleared there)."""
        self._nothing_to_reset = True

    async def set_read_settings(self, settings: str) -> None:
        """Run `settings` (SET statements, one simple query) unless it is what the session has already."""
        if self._read_settings == settings:
            return
        self._read_settings = None  # until they are known to hold
        await self.execute(settings)
        self._read_settings = settings

    async def drop_read_settings(self) -> None:
        if self._read_settings is not None:
            await self.execute("RESET ALL")  # back to the defaults, connection options included
            self._read_settings = None

    def forget_read_settings(self) -> None:
        self._read_settings = None


# Set while a read takes its connection: any other taker gets a connection without reads' settings.
_reading: contextvars.ContextVar[bool] = contextvars.ContextVar("runledger_reading", default=False)


@contextlib.asynccontextmanager
async def acquire_for_reads(pool: asyncpg.Pool) -> AsyncIterator[Connection]:
    """A connection of `pool` that may still hold the session settings of earlier reads."""
    token = _reading.set(True)
    try:
        async with pool.acquire() as conn:
            _reading.reset(token)
            token = None
            yield conn
    finally:
        if token is not None:
            _reading.reset(token)


async def _setup(conn: Connection) -> None:
    # A read-only session with the API's time limit would fail or cut a writer's statements.
    if not _reading.get():
        await conn.drop_read_settings()


async def _reset(conn: Connection) -> None:
    # The pool has rolled back any open transaction and dropped listeners before this runs.
    if conn._nothing_to_reset:
        conn._nothing_to_reset = False
        return
    query = conn.get_reset_query()
    if query:
        await conn.execute(query)
    if "RESET ALL" in query:
        conn.forget_read_settings()
    else:  # a server whose reset query keeps session settings: reads' must not outlive their reads
        await conn.drop_read_settings()


async def create_pool(dsn: str, *, database: DatabaseSettings, **overrides: Any) -> asyncpg.Pool:
    server_settings = {"application_name": "runledger"}
    if database.statement_timeout_ms:
        server_settings["statement_timeout"] = str(database.statement_timeout_ms)
    options: dict[str, Any] = dict(
        min_size=database.pool_min,
        max_size=database.pool_max,
        init=_init_connection,
        server_settings=server_settings,
        command_timeout=max(database.statement_timeout_ms / 1000 * 2, 30),
        connection_class=Connection,
        reset=_reset,
        setup=_setup,
    )
    options.update(overrides)
    return await asyncpg.create_pool(dsn, **options)


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
