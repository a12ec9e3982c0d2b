"""Postgres cut off mid-stream (through a TCP proxy): the agent keeps one state per run, retries,
and every final state is present once the database is back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from runledger.agent.ingest import Ingestor
from runledger.metadata import db
from runledger.models import WatchEvent
from tests.support.builders import WorkflowBuilder
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually


def socket_path(dsn: str) -> tuple[str, str]:
    parsed = urlparse(dsn)
    host = parse_qs(parsed.query)["host"][0]
    return f"{host}/.s.PGSQL.5432", parsed.path.lstrip("/")


async def test_every_final_state_is_stored_after_postgres_comes_back(dsn, settings, conn):
    path, database = socket_path(dsn)
    proxy = await TcpProxy(unix_path=path).start()
    fast = settings.model_copy(update={"ingest_retry_max_seconds": 0.2, "database_statement_timeout_ms": 2000})
    pool = await db.create_pool(f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}", settings=fast,
                                min_size=0, timeout=1)  # fmt: skip
    ingestor = Ingestor(pool=pool, settings=fast)
    ingestor.start()
    try:
        builders = [WorkflowBuilder(name=f"wf-{i}") for i in range(30)]
        for b in builders:
            await ingestor.submit(WatchEvent.model_validate(b.phase("Running").node("a", "Running").event("ADDED")))
        await ingestor.drain()
        proxy.cut()
        for b in builders:  # many updates per run while the database is away
            for step in range(5):
                await ingestor.submit(WatchEvent.model_validate(b.node(f"s{step}", "Running", parent="a").event()))
            await ingestor.submit(WatchEvent.model_validate(b.phase("Succeeded", at="2026-01-01T00:30:00Z").event()))

        async def retried() -> bool:
            return ingestor.stats.db_retries >= 2 and not ingestor.database_ok

        await eventually(retried)
        assert len(ingestor.queue) + ingestor.queue.in_progress <= 30  # one pending state per run
        proxy.restore()
        await eventually(lambda: _drained(ingestor), timeout=30)
    finally:
        await ingestor.stop()
        await pool.close()
        await proxy.close()
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE phase = 'Succeeded'") == 30
    assert await conn.fetchval("SELECT count(*) FROM steps") == 30 * 6
    assert await conn.fetchval("SELECT count(*) FROM transitions WHERE step_id = '' AND to_phase = 'Succeeded'") == 30


async def _drained(ingestor) -> bool:
    return ingestor.queue.idle()
