"""Connection layer: the asyncpg pool, its codecs, and which errors mean "the database is away".

Everything above this module talks to Postgres through a pool created here, so jsonb decoding,
statement timeouts and the classification of transient failures are decided once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import orjson

from runledger.core.settings import Settings

log = logging.getLogger(__name__)

# Failures after which the same statement may well succeed later: the server is restarting,
# unreachable, overloaded, or our connection broke. Anything else is about the data or the SQL.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


async def create_pool(dsn: str, *, settings: Settings, **overrides: Any) -> asyncpg.Pool:
    server_settings = {"application_name": "runledger"}
    if settings.database_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.database_statement_timeout_ms)
    options: dict[str, Any] = dict(
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        init=_init_connection,
        server_settings=server_settings,
        command_timeout=max(settings.database_statement_timeout_ms / 1000 * 2, 30),
    )
    options.update(overrides)
    return await asyncpg.create_pool(dsn, **options)


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
