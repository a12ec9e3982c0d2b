"""Continuous writes on the primary and reads through a ReadRouter, checked for errors and staleness.

A writer commits an increasing counter into a table of its own, noting when each commit returned.
Readers ask the router for the newest counter. A read that started at t must show every counter
whose commit returned before t - bound: anything less is a read older than the lag bound.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from runledger.store.read_routing import ReadRouter
from tests.support.replicas import ReplicaCluster

_tables = itertools.count()
_PACE_SECONDS = 0.003  # between two reads of one reader: load, not a busy loop on a shared machine


@dataclass
class Load:
    bound: float
    committed_at: list[float] = field(default_factory=list)  # monotonic time the commit of counter i+1 returned
    reads: int = 0
    failures: list[BaseException] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def check(self, *, started: float, seen: int) -> None:
        self.reads += 1
        owed = bisect.bisect_right(self.committed_at, started - self.bound)  # counters 1..owed are owed
        if seen < owed:
            self.stale.append(f"a read at {started:.3f} saw {seen}, but {owed} was committed {self.bound}s before")

    async def more_reads(self, n: int, *, timeout: float = 30.0) -> None:
        """Wait until `n` more reads have been answered (or have failed)."""
        target = self.reads + len(self.failures) + n
        deadline = time.monotonic() + timeout
        while self.reads + len(self.failures) < target:
            assert time.monotonic() < deadline, f"fewer than {n} reads within {timeout}s"
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def reading_under_writes(cluster: ReplicaCluster, router: ReadRouter, *, readers: int = 4) -> AsyncIterator[Load]:
    table = f"ticks_{next(_tables)}_{int(time.time())}"
    load = Load(bound=router.bound)
    writer = await cluster.primary.connect()
    await writer.execute(f"CREATE TABLE {table} (n integer PRIMARY KEY)")
    # A read may be up to the bound old: the table itself must be older than that everywhere.
    await cluster.wait_caught_up()

    async def write() -> None:
        for n in itertools.count(1):
            await writer.execute(f"INSERT INTO {table} VALUES ($1)", n)
            load.committed_at.append(time.monotonic())
            await asyncio.sleep(_PACE_SECONDS)

    async def read(*, one_statement: bool) -> None:
        while True:
            started = time.monotonic()
            try:
                seen = await router.read(lambda conn: conn.fetchval(f"SELECT coalesce(max(n), 0) FROM {table}"),
                                         one_statement=one_statement)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - every failure is a finding, reported by the test
                load.failures.append(exc)
            else:
                load.check(started=started, seen=seen)
            await asyncio.sleep(_PACE_SECONDS)

    tasks = [asyncio.create_task(write(), name="load-writer")]
    # Half the readers read as a page of runs does: one statement, no transaction around it.
    tasks += [asyncio.create_task(read(one_statement=i % 2 == 1), name=f"load-reader-{i}") for i in range(readers)]
    try:
        yield load
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()
        await writer.execute(f"DROP TABLE {table}")
        await writer.close()
