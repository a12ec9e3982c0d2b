"""How a request reads: one snapshot, read-only, time-bounded, on a replica when one is recent enough.

Every read of a request runs in one REPEATABLE READ, READ ONLY transaction, so the parts of a
response (a run and its metrics, a graph and its edges, a page and its count) agree with each
other; a read of a single statement, which is a snapshot by itself, runs without one, in a
read-only session (see read_session in sql/queries/read.sql). Either runs under
RUNLEDGER_API_STATEMENT_TIMEOUT_MS, so one expensive query (a wide filter, a huge graph) is cancelled by Postgres and answered 503 instead of holding a pooled connection for
as long as the agent's own statements may run.

The snapshot is taken where the app's ReadRouter says (runledger/store/read_routing.py): a hot
standby within the lag bound, else the primary. A standby that fails meanwhile is left out and the
read runs again elsewhere, so what a handler reads is a function `work(conn)`, not a block: it may
run more than once, and does nothing but read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiohttp import web

from runledger.api import app_keys
from runledger.store.read_errors import BadRequest

T = TypeVar("T")


async def read(request: web.Request, work: Callable[[asyncpg.Connection], Awaitable[T]], *, filters: bool = True,
               memoize: bool = True, one_statement: bool = False) -> T:  # fmt: skip
    """`work(conn)` in the request's read-only snapshot. `filters`: whether its statements bind user
    filters (see begin_snapshot in sql/queries/read.sql); a request that binds ids only may reuse cached plans, which Postgres
    does when they cost no more than planning each statement anew. `memoize`: whether its plans may
    memoize a join's inner side (off where each outer row has its own key, as a page's runs do).
    `one_statement`: `work` runs exactly one statement, a snapshot by itself, so no transaction is
    opened around it (two round trips fewer; see read_session in sql/queries/read.sql)."""
    try:
        return await request.app[app_keys.READS].read(work, custom_plans=filters, memoize=memoize,
                                                      one_statement=one_statement)  # fmt: skip
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
