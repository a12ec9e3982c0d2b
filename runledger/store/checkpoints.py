"""Where each watch stream may resume: its checkpointed resourceVersion, in Postgres."""

from __future__ import annotations

import asyncpg

from runledger.store.sql_blocks import q


class PgCheckpointStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def load(self, stream: str) -> str | None:
        async with self._pool.acquire() as conn:
            return await conn.fetchval(q("load_checkpoint"), stream)

    async def save(self, stream: str, resource_version: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(q("save_checkpoint"), stream, resource_version)
