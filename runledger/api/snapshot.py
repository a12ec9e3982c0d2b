"""The connection a request reads through: one snapshot, read-only, time-bounded.

Every read of a request runs in one REPEATABLE READ, READ ONLY transaction, so the parts of a
response (a run and its metrics, a graph and its edges, a page and its count) agree with each
other, and under RUNLEDGER_API_STATEMENT_TIMEOUT_MS, so one expensive query (a wide filter, a
huge graph) is cancelled by Postgres and answered 503 instead of holding a pooled connection for
as long as the agent's own statements may run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from aiohttp import web

from runledger.api import keys
from runledger.store.connection import is_transient
from runledger.store.errors import BadRequest
from runledger.store.sql_blocks import q


@asynccontextmanager
async def snapshot(request: web.Request, *, filters: bool = True) -> AsyncIterator[asyncpg.Connection]:
    """The request's read-only snapshot. `filters`: whether its statements bind user filters (see
    begin_snapshot in sql/queries/read.sql); a request that binds ids only may reuse cached plans, which Postgres
    does when they cost no more than planning each statement anew."""
    timeout_ms = int(request.app[keys.SETTINGS].api_statement_timeout_ms)
    begin = q("begin_snapshot", timeout_ms=str(timeout_ms), plan_cache_mode="force_custom_plan" if filters else "auto")
    async with request.app[keys.POOL].acquire() as conn:
        # By hand rather than conn.transaction(): BEGIN and the limits go in one round trip, which
        # is a tenth of a small page's time; a failure rolls back before the connection goes back.
        await conn.execute(begin)
        try:
            yield conn
        except BaseException as exc:
            await _roll_back(conn)
            if isinstance(exc, asyncpg.DataError) and _unstorable_argument(exc):
                raise BadRequest(
                    "a parameter holds a value Postgres cannot take: a NUL character, or a time or number out of range"
                ) from None
            raise
        await conn.execute("COMMIT")


async def _roll_back(conn: asyncpg.Connection) -> None:
    if conn.is_closed() or not conn.is_in_transaction():
        return
    try:
        await conn.execute("ROLLBACK")
    except Exception as exc:
        if not is_transient(exc):
            raise
        # The connection broke: the pool discards it, and the request's own failure is the one to report.


def _unstorable_argument(exc: asyncpg.DataError) -> bool:
    # Reads bind request values only, and these errors are about a bound value itself, never about
    # stored data (which went through the same checks on the way in): text holding NUL (22021), a
    # JSON argument holding \u0000 (22P05), and what asyncpg cannot encode (a time beyond Postgres'
    # range once in UTC, an integer beyond int64). Other data errors stay server errors.
    return isinstance(exc, (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)) or (
        type(exc) is asyncpg.DataError and str(exc).startswith("invalid input for query argument")
    )
