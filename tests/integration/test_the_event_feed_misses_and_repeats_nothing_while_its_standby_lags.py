"""The event feed listens on the primary and reads its rows from a standby once that standby has
replayed past them: while the standby lags (replay paused), streams, live and resuming, still get
every transition exactly once, from the primary, and from the standby again once it caught up."""

from __future__ import annotations

import uuid

import pytest

from runledger.api.app_keys import READS
from runledger.core.settings import DatabaseSettings, Settings
from runledger.store.read_routing import OK
from tests.support.event_streams import (
    as_stored,
    open_stream,
    serve_feed,
    stored_transitions,
)
from tests.support.waiting import eventually, holds

pytestmark = pytest.mark.replicas


async def insert_transitions(conn, *, run_id: str, count: int) -> None:
    await conn.execute(
        "INSERT INTO runs (id, namespace, name, phase, fp) VALUES ($1, 'feed', $1, 'Running', 0) ON CONFLICT DO NOTHING",
        run_id,
    )
    for i in range(count):  # one commit, and one notification, each
        await conn.execute("INSERT INTO transitions (run_id, step_id, to_phase, at) VALUES ($1, $2, 'Running', now())",
                           run_id, f"node-{uuid.uuid4().hex[:6]}-{i}")  # fmt: skip


async def test_streams_get_every_transition_once_while_the_standby_lags_and_after(replica_cluster, tmp_path):
    standby = replica_cluster.standbys[0]
    settings = Settings(database=DatabaseSettings(data_dir=tmp_path, pool_max=4, replica_urls=standby.uri(), replica_max_lag_seconds=1.0))  # fmt: skip
    run_id = f"feed-{uuid.uuid4().hex[:8]}"
    primary = await replica_cluster.primary.connect()
    try:
        await insert_transitions(primary, run_id=run_id, count=1)  # the run exists everywhere before streams open
        await replica_cluster.wait_caught_up()
        async with serve_feed(settings=settings, dsn=replica_cluster.primary.uri()) as feed:
            reads = feed.app[READS]
            target = reads.standbys[0]
            async with open_stream(feed.client, f"?run={run_id}") as live:
                await insert_transitions(primary, run_id=run_id, count=5)
                first = await live.take(5)
                assert target.reads > 0  # the caught-up standby served the feed's rows

                try:
                    await replica_cluster.set_replay(standby, paused=True)
                    await insert_transitions(primary, run_id=run_id, count=5)
                    during = await live.take(5)
                    # A client resuming meanwhile replays what it missed up to the live queue, then goes on.
                    async with open_stream(feed.client, f"?run={run_id}",
                                           headers={"Last-Event-ID": str(first[1].id)}) as resumed:  # fmt: skip
                        await insert_transitions(primary, run_id=run_id, count=3)
                        after_resume = await live.take(3)
                        replayed = await resumed.take(3 + 5 + 3)
                finally:
                    await replica_cluster.set_replay(standby, paused=False)

                await eventually(lambda: replica_cluster.caught_up(standby))
                await holds(lambda: target.state == OK)  # the monitor took it back
                before = target.reads
                await insert_transitions(primary, run_id=run_id, count=4)
                last = await live.take(4)
                assert target.reads > before  # back on the standby once it caught up
        stored = [t for t in await stored_transitions(primary) if t[1] == run_id][1:]
    finally:
        await primary.close()
    assert as_stored(first + during + after_resume + last) == stored
    assert as_stored(replayed) == stored[2 : 2 + 11]

