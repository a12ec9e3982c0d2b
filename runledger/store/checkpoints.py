"""Where each watch stream may resume: its checkpointed resourceVersion, in Postgres."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from runledger.core.backoff import Backoff
from runledger.store.connection import is_transient
from runledger.store.sql_blocks import q

log = logging.getLogger(__name__)


class PgCheckpointStore:
    def __init__(self, pool: asyncpg.Pool, *, retry_max_seconds: float = 5.0) -> None:
        self._pool = pool
        self._retry_max_seconds = retry_max_seconds

    async def load(self, stream: str) -> str | None:
        # A stream starts only from a known point: a leader elected while the database is away
        # waits for it here rather than dying, and watches once it is back.
        backoff = Backoff(0.1, self._retry_max_seconds)
        while True:
            try:
                async with self._pool.acquire() as conn:
                    return await conn.fetchval(q("load_checkpoint"), stream)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = backoff.next()
                log.warning("%s: cannot read its checkpoint (%s); retrying in %.1fs", stream, exc, delay)
                await asyncio.sleep(delay)

    async def save(self, stream: str, resource_version: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(q("save_checkpoint"), stream, resource_version)
