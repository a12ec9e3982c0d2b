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
from runledger.store.errors import BadRequest
from runledger.store.sql_blocks import q


@asynccontextmanager
async def snapshot(request: web.Request, *, filters: bool = True) -> AsyncIterator[asyncpg.Connection]:
    """The request's read-only snapshot. `filters`: whether its statements bind user filters (see
    limit_statement_time); a request that binds ids only may reuse cached plans, which Postgres
    does when they cost no more than planning each statement anew."""
    timeout_ms = request.app[keys.SETTINGS].api_statement_timeout_ms
    async with request.app[keys.POOL].acquire() as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            await conn.execute(q("limit_statement_time"), str(timeout_ms), "force_custom_plan" if filters else "auto")
            try:
                yield conn
            except asyncpg.DataError as exc:
                if not _unstorable_argument(exc):
                    raise
                raise BadRequest(
                    "a parameter holds a value Postgres cannot take: a NUL character, or a time or number out of range"
                ) from None


def _unstorable_argument(exc: asyncpg.DataError) -> bool:
    # Reads bind request values only, and these errors are about a bound value itself, never about
    # stored data (which went through the same checks on the way in): text holding NUL (22021), a
    # JSON argument holding \u0000 (22P05), and what asyncpg cannot encode (a time beyond Postgres'
    # range once in UTC, an integer beyond int64). Other data errors stay server errors.
    return isinstance(exc, (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)) or (
        type(exc) is asyncpg.DataError and str(exc).startswith("invalid input for query argument")
    )
