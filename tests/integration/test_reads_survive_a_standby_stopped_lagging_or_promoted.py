"""Under continuous writes and reads, a standby that stops, falls behind or is promoted costs no read
an error, and no read ever shows data older than the lag bound: the read runs again elsewhere."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runledger.core.settings import DatabaseSettings, Settings
from runledger.store import connection as db
from runledger.store.read_routing import DOWN, LAGGING, OK, PROMOTED, ReadRouter
from tests.support.read_load import Load, reading_under_writes
from tests.support.replicas import Node, ReplicaCluster
from tests.support.waiting import holds

pytestmark = pytest.mark.replicas

BOUND = 1.0


@contextlib.asynccontextmanager
async def routed(cluster: ReplicaCluster, standbys: list[Node], tmp_path: Path) -> AsyncIterator[ReadRouter]:
    settings = Settings(database=DatabaseSettings(data_dir=tmp_path, pool_max=4, replica_urls=",".join(s.uri() for s in standbys), replica_max_lag_seconds=BOUND))  # fmt: skip
    pool = await db.create_pool(cluster.primary.uri(), database=settings.database)
    try:
        async with ReadRouter(primary=pool, database=settings.database, api=settings.api) as router:
            yield router
    finally:
        await pool.close()


def state_of(router: ReadRouter, node: Node) -> str:
    return next(t.state for t in router.standbys if t.name.startswith(str(node.socket_dir)))


def reads_on(router: ReadRouter, node: Node) -> int:
    return next(t.reads for t in router.standbys if t.name.startswith(str(node.socket_dir)))


def assert_clean(load: Load) -> None:
    assert load.failures == []
    assert load.stale == []
    assert load.reads > 0


async def test_a_standby_that_stops_and_comes_back_costs_no_read(replica_cluster, tmp_path):
    one, two = replica_cluster.standbys
    await replica_cluster.wait_caught_up()
    async with routed(replica_cluster, [one, two], tmp_path) as router, reading_under_writes(
        replica_cluster, router
    ) as load:
        await holds(lambda: reads_on(router, one) > 20 and reads_on(router, two) > 20)
        try:
            await replica_cluster.stop(one, mode="immediate")
            await holds(lambda: state_of(router, one) == DOWN)
            await load.more_reads(200)
        finally:
            await replica_cluster.start(one)
        await holds(lambda: state_of(router, one) == OK, timeout=30)
        before = reads_on(router, one)
        await holds(lambda: reads_on(router, one) > before + 20)
    assert_clean(load)
    assert router.primary.reads < load.reads  # the standbys took reads all along


async def test_a_standby_whose_replay_is_paused_gets_no_read_past_the_bound(replica_cluster, tmp_path):
    one, two = replica_cluster.standbys
    await replica_cluster.wait_caught_up()
    async with routed(replica_cluster, [one, two], tmp_path) as router, reading_under_writes(
        replica_cluster, router
    ) as load:
        await holds(lambda: reads_on(router, one) > 20)
        try:
            await replica_cluster.set_replay(one, paused=True)
            await holds(lambda: state_of(router, one) == LAGGING, timeout=10)
            await load.more_reads(200)
        finally:
            await replica_cluster.set_replay(one, paused=False)
        await holds(lambda: state_of(router, one) == OK, timeout=30)
        lagging = next(t for t in router.standbys if t.name.startswith(str(one.socket_dir)))
    assert_clean(load)
    assert lagging.lag_seconds is not None and lagging.lag_seconds <= BOUND


async def test_a_promoted_standby_is_left_out_at_once(replica_cluster, tmp_path):
    three = await replica_cluster.add_standby("standby3")
    try:
        await replica_cluster.wait_caught_up(three)
        async with routed(replica_cluster, [three], tmp_path) as router, reading_under_writes(
            replica_cluster, router
        ) as load:
            await holds(lambda: reads_on(router, three) > 20)
            await replica_cluster.promote(three)
            await holds(lambda: state_of(router, three) == PROMOTED)
            await load.more_reads(200)
            reads_when_promoted = reads_on(router, three)
            await load.more_reads(100)
            assert reads_on(router, three) == reads_when_promoted
        assert_clean(load)
    finally:
        await replica_cluster.remove(three)
