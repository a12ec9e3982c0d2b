"""runledger's own Postgres, as every command meets it: found (a URL, else the embedded server),
migrated (the first contact: a wrong URL ends here, in one line), and pooled."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from runledger.agent.source_databases import redacted
from runledger.core.progress import Progress
from runledger.core.settings import DatabaseSettings, LogSettings
from runledger.service.command_errors import CommandError
from runledger.store import connection as db
from runledger.store import embedded, migrations


@dataclass(frozen=True)
class Database:
    dsn: str
    description: str  # where the data lives, for people


async def resolve_database(database: DatabaseSettings) -> Database:
    for url in database.replicas:
        check_database_url(url, setting="RUNLEDGER_DATABASE_REPLICA_URLS")
    if database.replicas and not database.url:
        raise CommandError(
            "RUNLEDGER_DATABASE_REPLICA_URLS needs RUNLEDGER_DATABASE_URL: set it to the primary the standbys "
            "stream from (writes, migrations and the event feed stay there)",
            code=2,
        )
    if database.url:
        check_database_url(database.url)
        return Database(database.url, "the Postgres at RUNLEDGER_DATABASE_URL")
    dsn = await embedded.start_embedded(database.embedded_pgdata)
    return Database(dsn, f"an embedded Postgres in {database.embedded_pgdata}")


def check_database_url(url: str, *, setting: str = "RUNLEDGER_DATABASE_URL") -> None:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
        ok = parts.scheme in ("postgresql", "postgres")
    except ValueError:
        ok = False
    if not ok:
        what = ("or unset it for the embedded Postgres" if setting == "RUNLEDGER_DATABASE_URL"
                else "one per hot standby, separated by commas")  # fmt: skip
        raise CommandError(
            f"{setting} {redacted(url)} is not a Postgres URL: set it to postgresql://USER:PASSWORD@HOST:5432/DATABASE, "
            + what,
            code=2,
        )


def _unreachable(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer"
    return str(exc) or type(exc).__name__


async def migrate_database(dsn: str, *, log: LogSettings) -> list[migrations.Migration]:
    # The first contact with the database for every command: a wrong URL ends here, in one line.
    try:
        conn = await db.connect(dsn)
    except (OSError, asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError) as exc:
        raise CommandError(
            f"cannot connect to the database at {redacted(dsn)} ({_unreachable(exc)}): "
            "check RUNLEDGER_DATABASE_URL and that Postgres is up there",
            code=1,
        ) from exc
    try:
        progress = Progress(what="migrate", unit="migrations", interval=log.progress_interval_seconds)
        return await migrations.migrate(conn, progress=progress)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def open_pool(database: DatabaseSettings, dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, database=database)
    try:
        yield pool
    finally:
        await pool.close()
