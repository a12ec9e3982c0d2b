"""Read-only access to other systems' databases: Argo's persistence database and KFP's.

Both run on Postgres or MySQL, so a source is opened from its URL's scheme: ``postgres://`` /
``postgresql://`` through asyncpg, ``mysql://`` / ``mariadb://`` through aiomysql. Their SQL is
kept with runledger's own, in named blocks (``runledger/sql/queries/argo_database.sql``,
``kfp_database.sql``), one block per dialect: ``<name>__postgres`` and ``<name>__mysql``, since
placeholders and identifier quoting differ. Rows come back as dicts, JSON columns as text (both
drivers return them so), timestamps naive as the source stores them (Argo's and KFP's are UTC).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from runledger.store.sql_blocks import q

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
POSTGRES_SCHEMES = ("postgres", "postgresql")
MYSQL_SCHEMES = ("mysql", "mariadb")


class SourceError(Exception):
    """The source database cannot be reached or refused a query (not a bad row: the read cannot go on)."""


def identifier(name: str) -> str:
    """A table name from settings, checked before it is put into SQL."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain SQL table name (letters, digits, underscores)")
    return name


def dialect_of(url: str) -> str:
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    if scheme in POSTGRES_SCHEMES:
        return "postgres"
    if scheme in MYSQL_SCHEMES:
        return "mysql"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use postgresql://… or mysql://…")


def redacted(url: str) -> str:
    """The URL without its password, for messages and checkpoint names."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


class SourceDatabase:
    """A small pool on one source database; `fetch` runs a named block in this source's dialect."""

    def __init__(self, url: str, *, max_connections: int = 2) -> None:
        self.url = url
        self.dialect = dialect_of(url)
        self._max = max_connections
        self._pool: Any = None

    async def __aenter__(self) -> SourceDatabase:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        try:
            if self.dialect == "postgres":
                self._pool = await asyncpg.create_pool(self.url, min_size=0, max_size=self._max)
            else:
                self._pool = await _mysql_pool(self.url, self._max)
        except (OSError, asyncpg.PostgresError) as exc:
            raise SourceError(f"cannot connect to {redacted(self.url)}: {exc}") from exc
        except Exception as exc:
            if _is_mysql_error(exc):
                raise SourceError(f"cannot connect to {redacted(self.url)}: {exc}") from exc
            raise

    async def close(self) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if self.dialect == "postgres":
            await pool.close()
        else:
            pool.close()
            await pool.wait_closed()

    async def fetch(self, name: str, args: Sequence[Any], **parts: str) -> list[dict[str, Any]]:
        """Rows of block `name` (its dialect's variant), its slots filled with `parts`, `args` bound."""
        sql = q(f"{name}__{self.dialect}", **parts)
        try:
            if self.dialect == "postgres":
                async with self._pool.acquire() as conn:
                    return [dict(r) for r in await conn.fetch(sql, *args)]
            import aiomysql

            async with self._pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cur:
                await cur.execute(sql, tuple(args))
                return list(await cur.fetchall())
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise SourceError(f"{redacted(self.url)}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            if _is_mysql_error(exc):
                raise SourceError(f"{redacted(self.url)}: {type(exc).__name__}: {exc}") from exc
            raise


async def _mysql_pool(url: str, max_connections: int) -> Any:
    try:
        import aiomysql
    except ImportError:  # pragma: no cover - a dependency; the message is for broken installs
        raise SourceError("MySQL sources need the aiomysql package (pip install aiomysql)") from None
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    options: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "db": unquote(parts.path.lstrip("/")) or None,
        "charset": "utf8mb4",
        "autocommit": True,
        "minsize": 0,
        "maxsize": max_connections,
    }
    if "unix_socket" in query:
        options["unix_socket"] = query["unix_socket"]
    return await aiomysql.create_pool(**options)


def _is_mysql_error(exc: BaseException) -> bool:
    try:
        import pymysql
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, pymysql.err.MySQLError)
