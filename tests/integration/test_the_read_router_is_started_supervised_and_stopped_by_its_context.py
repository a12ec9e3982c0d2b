"""`async with ReadRouter(...)`: entering opens the standbys' pools and measures them before the first
read, the monitor keeps measuring while it runs, and leaving ends the monitor and closes those pools
(the primary's pool belongs to whoever handed it in)."""

from __future__ import annotations

import asyncio

import pytest

from runledger.core.settings import DatabaseSettings, Settings
from runledger.store import connection as db
from runledger.store.read_routing import OK, ReadRouter

pytestmark = pytest.mark.replicas


def monitors() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "replica-monitor" and not t.done()]


async def test_entering_measures_every_standby_and_leaving_closes_their_pools(replica_cluster, tmp_path):
    settings = Settings(database=DatabaseSettings(data_dir=tmp_path, replica_urls=",".join(s.uri() for s in replica_cluster.standbys)))
    await replica_cluster.wait_caught_up()
    primary = await db.create_pool(replica_cluster.primary.uri(), database=settings.database)
    try:
        async with ReadRouter(primary=primary, database=settings.database, api=settings.api) as router:
            assert [t.state for t in router.targets] == [OK, OK, OK]  # measured before the first read
            assert len(monitors()) == 1
            pools = [t.pool for t in router.standbys]
        assert monitors() == []
        assert all(p.is_closing() for p in pools)
        assert not primary.is_closing()
    finally:
        await primary.close()


async def test_without_standbys_every_read_goes_to_the_primary_and_nothing_runs(pool, settings):
    async with ReadRouter(primary=pool, database=settings.database, api=settings.api) as router:
        assert monitors() == []
        assert await router.read(lambda conn: conn.fetchval("SELECT pg_is_in_recovery()")) is False
        assert router.primary.reads == 1 and router.standbys == []
