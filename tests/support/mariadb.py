"""A real MySQL-compatible server for the tests of the MySQL paths: Debian's MariaDB, private to the session.

The server runs from a temporary data directory with its own unix socket and TCP port, so nothing on
the machine is touched. When the binaries are missing they are installed with apt (the test machines
run as root); when that is impossible the tests fail with one line that says so.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql

INSTALL = "apt-get update && apt-get install -y mariadb-server"
_START_TIMEOUT = 60.0


class MariaDBUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class MariaDB:
    host: str
    port: int
    socket: Path

    def url(self, database: str) -> str:
        return f"mysql://root@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; its name."""
        name = f"t_{secrets.token_hex(6)}"
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return name

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=str(self.socket), user="root", database=database, autocommit=True)


def _binaries() -> tuple[str, str]:
    server, init = shutil.which("mariadbd", path=_PATH), shutil.which("mariadb-install-db", path=_PATH)
    if server and init:
        return server, init
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MariaDBUnavailable(f"MariaDB is not installed and cannot be installed here: run `{INSTALL}` as root")
    done = subprocess.run(
        ["sh", "-c", INSTALL], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True, text=True
    )  # fmt: skip
    server, init = shutil.which("mariadbd", path=_PATH), shutil.which("mariadb-install-db", path=_PATH)
    if done.returncode != 0 or not (server and init):
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise MariaDBUnavailable(f"MariaDB could not be installed with `{INSTALL}`: {last[0]}")
    return server, init


_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_mariadb() -> Iterator[MariaDB]:
    server, init = _binaries()
    root = Path(tempfile.mkdtemp(prefix="runledger-test-mariadb-"))
    data, sock, port = root / "data", root / "mysqld.sock", _free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    initialised = subprocess.run(
        [init, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=socket", "--skip-test-db",
         *user],
        capture_output=True, text=True,
    )  # fmt: skip
    if initialised.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise MariaDBUnavailable(f"mariadb-install-db failed: {initialised.stderr.strip()[-300:]}")
    log = open(root / "server.log", "wb")
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--pid-file={root / 'mysqld.pid'}", "--skip-name-resolve",
         "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--skip-log-bin", *user],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        instance = MariaDB(host="127.0.0.1", port=port, socket=sock)
        _wait_until_up(instance, process, root / "server.log")
        # Root logs in over the socket by its OS identity; a TCP client (the code under test) needs a
        # password-less account of its own.
        with instance.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY ''")
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        yield instance
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_up(instance: MariaDB, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise MariaDBUnavailable(f"mariadbd exited at start: {log.read_text(errors='replace').strip()[-400:]}")
        # A raw socket first: a client library that fails to connect leaves its socket to the collector.
        with socket.socket(socket.AF_UNIX) as probe:
            if probe.connect_ex(str(instance.socket)) == 0:
                return
            if time.monotonic() > deadline:
                raise MariaDBUnavailable(f"mariadbd did not answer within {_START_TIMEOUT}s") from None
            time.sleep(0.05)
