"""Schema migrations: numbered SQL files applied in order, once, under an advisory lock.

Several replicas may start at the same time (a rolling upgrade of a 2-replica Deployment): the
session-level advisory lock makes exactly one of them apply pending files while the others wait
and then find nothing to do. Each file runs in its own transaction together with the row that
records it, so a failed migration leaves no half-applied schema and is retried on the next start.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from runledger.core.progress import Progress

log = logging.getLogger(__name__)

# Any constant works as long as every replica uses the same one; this is "runledgr" in ASCII.
MIGRATION_LOCK_KEY = 0x72756E6C65646772
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    folder = resources.files("runledger.sql") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration files must be numbered 0001.. without gaps, found {versions}")
    return found


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending_migrations(conn: asyncpg.Connection) -> list[Migration]:
    done = await applied_versions(conn)
    return [m for m in available_migrations() if m.version not in done]


async def migrate(conn: asyncpg.Connection, *, progress: Progress | None = None) -> list[Migration]:
    """Apply every pending migration; returns those this call applied. ``progress`` (not yet entered)
    is shown while there are some to apply."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        pending = await pending_migrations(conn)
        if not pending:
            return []
        progress = progress or Progress(what="migrate", unit="migrations")
        progress.set_total(len(pending))
        with progress:
            for migration in pending:
                await _apply(conn, migration)
                progress.advance()
        return pending
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    async with conn.transaction():
        await conn.execute(migration.sql)
        await conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
        )
    log.info("applied migration %04d_%s", migration.version, migration.name)
