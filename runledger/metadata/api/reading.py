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

from runledger.metadata.api import keys
from runledger.metadata.queries import q


@asynccontextmanager
async def snapshot(request: web.Request) -> AsyncIterator[asyncpg.Connection]:
    timeout_ms = request.app[keys.SETTINGS].api_statement_timeout_ms
    async with request.app[keys.POOL].acquire() as conn:
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            await conn.execute(q("limit_statement_time"), str(timeout_ms))
            yield conn
