"""Artifact-indexing benchmark: the ArtifactIndexer against a local S3 server, and what bounds it.

    make bench            # or: .venv/bin/python -m bench.artifacts [--objects 20000] [--concurrency 32]
                          #     [--s3-servers 1] [--baseline-objects 2000] [--ceiling-objects 3000]
                          #     [--put-over-http] [--no-trivial-s3] [--profile]

Setup: K moto servers (moto.server's main, each its own process, so S3 does not share our GIL) on
127.0.0.1, holding N small objects spread round-robin over the servers under distinct endpoint
names that artifacts_endpoint_map leads to them. Each server process stores its objects through
moto's own S3 backend (put_object) before it starts serving, in seconds; --put-over-http puts them
instead with 64 concurrent put_object calls over HTTP, as a client would (moto manages ~150 PUTs/s
on 2 cores: over 2 minutes for 20,000). Either way HEADs are served from the same state. A fresh
database gets the N artifacts the way the writer adds them, in bulk, with its own named queries
(discover_artifacts, then enqueue_artifacts): the queue is the real ``artifact_queue`` table.

Measured in the same run, against the same objects:

* aiobotocore: C concurrent raw aiobotocore head_object calls, no database: what S3 allows through
               botocore (the indexer's HEAD path before the lean one; still its path for GETs and
               fallbacks);
* store:       C concurrent ObjectStore.head calls, no database: the lean HEAD path alone (SigV4
               signed by ``signing``, one shared aiohttp session, keep-alive): the indexer's ceiling;
* runledger:   the real ArtifactIndexer (artifacts_workers = C) until the queue is drained;
* naive:       one HEAD at a time (the same ObjectStore, so the same lean path), one UPDATE +
               DELETE + commit per object, over a sample.

Moto is a Python server (werkzeug, a thread per connection, one GIL) that closes every connection,
so each HEAD also pays a TCP handshake on both sides; it costs far more CPU per HEAD than our
client does (~4 ms against ~1-2 ms of ours with the handshake, ~0.4 ms without), so one moto
process tops out near 1 / its CPU per HEAD, whatever the client; --s3-servers K spreads the
objects over K moto processes. The same contenders are measured a second time against a trivial
keep-alive HEAD responder (aiohttp, its own process, no storage behind it): what the client and the
indexer do when the server costs next to nothing. Skip it with --no-trivial-s3.

Reported: wall time, HEADs/s, outcomes, and where the time goes. ``s3_seconds / (workers x wall)``
is the share of worker time spent inside the S3 call; in one event loop that includes waiting for
the loop itself, because signing, aiohttp's request and response handling run inside that await
(and, on the aiobotocore path, botocore's request building and parsing). So CPU seconds per
HEAD are given per process (ours via time.process_time, the S3 server's and the embedded Postgres's
via psutil, the whole machine's via psutil.cpu_times), with the event loop's lag, and DB time as
the time the indexer's claimer and recorder held a connection (commit and loop lag included). The
indexer polls with poll_seconds=0.05 so the drain is noticed promptly (production: every second).

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
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from bench.ingest import fresh_database
from runledger.metadata import db, embedded
from runledger.metadata.artifacts.indexer import ArtifactIndexer
from runledger.metadata.artifacts.s3 import Location, ObjectStore, ObjectUnavailable
from runledger.metadata.queries import q
from runledger.settings import Settings
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, free_port

BUCKET = "mlpipeline"
PUT_CONCURRENCY = 64
TARGET_HEADS_PER_S = 500
REPO = Path(__file__).resolve().parents[1]


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


class ServerProcess:
    """One S3 server in a process of its own: this module run with a hidden --serve-* option."""

    def __init__(self, *args: str, ready_path: str = "/") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = args
        self._ready = self.url + ready_path
        self._process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.artifacts", *self._args, "--port", str(self.port)], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_ready(self, *, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                request = urllib.request.Request(self._ready, method="HEAD")
                urllib.request.urlopen(request, timeout=1).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                assert self._process is not None
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"S3 server {' '.join(self._args)} did not start (exit code "
                                       f"{self._process.poll()})") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


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

    async def __aenter__(self) -> LoopLag:
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


async def put_objects(urls: dict[str, str], objs: list[Obj]) -> float:
    started = time.perf_counter()
    async with contextlib.AsyncExitStack() as stack:
        clients = {e: await stack.enter_async_context(client(u, connections=PUT_CONCURRENCY)) for e, u in urls.items()}
        for c in clients.values():
            await c.create_bucket(Bucket=BUCKET)

        async def put(o: Obj) -> None:
            await clients[o.endpoint].put_object(Bucket=BUCKET, Key=o.key, Body=body(o), ContentType="application/gzip")

        await run_workers(objs, PUT_CONCURRENCY, put)
    return time.perf_counter() - started


async def load_queue(dsn: str, objs: list[Obj]) -> None:
    """The artifacts and their queue entries, in bulk, through the writer's own named queries."""
    conn = await db.connect(dsn)
    try:
        async with conn.transaction():
            n = len(objs)
            await conn.execute(q("discover_artifacts"), [o.uri for o in objs], [BUCKET] * n, [o.key for o in objs],
                               [o.endpoint for o in objs], [None] * n, [True] * n, ["output"] * n)  # fmt: skip
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
    store = ObjectStore(settings=settings)
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
    pool = await db.create_pool(dsn, settings=settings)
    timed = TimedPool(pool)
    try:
        indexer = ArtifactIndexer(pool=timed, settings=settings, poll_seconds=0.05)  # type: ignore[arg-type]
        async with LoopLag() as lag:
            with window(*meters) as w:
                if profile:
                    profile.enable()
                indexer.start()
                try:
                    await indexer.wait_drained()
                finally:
                    if profile:
                        profile.disable()
        await indexer.stop()
        left = await pool.fetchval("SELECT count(*) FROM artifact_queue")
        assert left == 0 and indexer.stats.checked == n, (left, indexer.stats.outcomes)
    finally:
        await pool.close()
    s = indexer.stats
    return Result("runledger indexer", server, n, w, s3_seconds=s.s3_seconds, workers=settings.artifacts_workers,
                  outcomes=s.outcomes, db_seconds=dict(timed.seconds), db_uses=dict(timed.uses),
                  loop_lag=lag.summary())  # fmt: skip


async def run_naive(server: str, dsn: str, settings: Settings, meters: tuple) -> Result:
    """What a simple loop does: HEAD one object (same ObjectStore), write it, commit, next."""
    store = ObjectStore(settings=settings)
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
    return Result("naive (sequential)", server, len(rows), w, s3_seconds=s3_seconds, outcomes=Counter(indexed=len(rows)))


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


def verdict(r: Result, *, cpus: int, servers: int) -> str:
    w = r.window
    per_server = w.server / servers / w.wall
    busy = w.machine / (cpus * w.wall)
    if per_server >= 0.85:
        why = f"S3-server-bound: each server process uses {per_server:.0%} of a core (one GIL each)"
    elif w.ours / w.wall >= 0.85:
        why = f"bound by our process: {w.ours / w.wall:.0%} of a core (one event loop, one GIL)"
    elif busy >= 0.85:
        why = (f"CPU-bound machine: {busy:.0%} of {cpus} CPUs busy (ours {w.ours / w.wall:.0%}, "
               f"server {w.server / w.wall:.0%}, Postgres {(w.postgres or 0) / w.wall:.0%}, "
               f"others {w.others / w.wall:.0%} of a core)")  # fmt: skip
    else:
        why = f"latency-bound: {busy:.0%} of {cpus} CPUs busy"
    return f"{r.server} / {r.name}: {why}"


def report(results: list[Result], *, cpus: int, servers: int, ceiling: Result, store: Result, ours: Result,
           naive: Result, trivial: tuple[Result, Result, Result] | None) -> None:  # fmt: skip
    table(results)
    time_split([ours] + ([trivial[2]] if trivial else []), cpus=cpus)

    print()
    print(f"runledger / naive (moto): x{ours.per_second / naive.per_second:.1f} HEADs/s")
    print(f"runledger / raw aiobotocore (moto): {ours.per_second / ceiling.per_second:.0%}")
    print(f"runledger / its store alone, no DB (moto): {ours.per_second / store.per_second:.0%}")
    if trivial:
        print(f"runledger / raw aiobotocore (trivial S3): {trivial[2].per_second / trivial[0].per_second:.0%}")
        print(f"runledger / its store alone, no DB (trivial S3): {trivial[2].per_second / trivial[1].per_second:.0%}")
    for r in [ceiling, store, ours, *(trivial or ())]:
        print(verdict(r, cpus=cpus, servers=servers if r.server.startswith("moto") else 1))
    if ceiling.connection_header:
        print(f"moto answers 'Connection: {ceiling.connection_header}': every HEAD against it opens a new TCP "
              "connection (and a new server thread); real S3 and MinIO keep connections alive")  # fmt: skip
    # What the CPU costs per HEAD allow at best, whatever the concurrency: each moto process is one
    # GIL (at most one core), and all processes share the machine's CPUs.
    w = ours.window
    server_cpu, all_cpu = w.server / ours.objects, (w.ours + w.server + (w.postgres or 0.0)) / ours.objects
    if server_cpu and all_cpu:
        print(f"at {1000 * server_cpu:.2f} ms of moto CPU per HEAD, {servers} moto process(es) serve at most "
              f"{servers / server_cpu:.0f} HEADs/s; at {1000 * all_cpu:.2f} ms of CPU per HEAD in all (moto, ours, "
              f"Postgres), {cpus} CPUs allow at most {cpus / all_cpu:.0f} HEADs/s")  # fmt: skip
    others = max(r.window.others / r.window.wall for r in results)
    if others > 0.25:
        print(f"WARNING: processes outside this benchmark used up to {others:.0%} of a core during a phase: "
              "the machine was shared, figures are depressed")  # fmt: skip

    met = "met" if ours.per_second >= TARGET_HEADS_PER_S else "NOT met"
    print(f"\ntarget >= {TARGET_HEADS_PER_S} HEADs/s at concurrency {ours.workers} against moto: {met} "
          f"({ours.per_second:.0f} HEADs/s)")  # fmt: skip
    if trivial:
        met = "met" if trivial[1].per_second >= TARGET_HEADS_PER_S else "NOT met"
        print(f"the same against the trivial keep-alive S3: {met} ({trivial[2].per_second:.0f} HEADs/s)")


def print_profile(profile: cProfile.Profile, top: int = 25) -> None:
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
    print(f"\n## cProfile of the indexer run against moto (own time by package, {total:.1f} s profiled)")
    for package, seconds in by_package.most_common(12):
        print(f"{package:<40}{seconds:>8.2f} s{seconds / total:>7.1%}")
    print("(cProfile counts every resumption of a coroutine as a call)")
    stats.sort_stats("tottime").print_stats(top)


# --- main -------------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    tmp = Path(tempfile.mkdtemp(prefix="runledger-bench-artifacts-"))
    # atexit runs last-in first-out: the embedded server (registered later) stops before this removes it.
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
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
        return Settings(
            database_pool_max=4, database_statement_timeout_ms=0, artifacts_workers=args.concurrency,
            artifacts_endpoint_map=urls, artifacts_access_key_id=ACCESS_KEY, artifacts_secret_access_key=SECRET_KEY,
        )  # fmt: skip

    moto = f"moto x{args.s3_servers}"
    objs = objects(args.objects, args.s3_servers)
    preload = 0 if args.put_over_http else args.objects
    servers = [ServerProcess("--serve-moto", "--moto-index", str(k), "--s3-servers", str(args.s3_servers),
                             "--objects", str(preload), ready_path="/moto-api/")
               for k in range(args.s3_servers)]  # fmt: skip
    profile = cProfile.Profile() if args.profile else None
    try:
        started = time.perf_counter()
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        meters = (CpuMeter([s.pid for s in servers]), postgres)
        urls = {f"s3-{k}.bench:9000": s.url for k, s in enumerate(servers)}
        if args.put_over_http:
            seconds = await put_objects(urls, objs)
            print(f"put {len(objs)} objects into {args.s3_servers} moto server(s) over HTTP in {seconds:.1f} s "
                  f"({len(objs) / seconds:.0f}/s, {PUT_CONCURRENCY} concurrent)")  # fmt: skip
        else:
            print(f"started {args.s3_servers} moto server(s) holding {len(objs)} objects (stored by moto's backend) "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip

        ceiling = await run_ceiling(moto, urls, objs[: args.ceiling_objects], args.concurrency, meters)
        store = await run_store(moto, settings_for(urls), objs[: args.ceiling_objects], args.concurrency, meters)
        dsn = await fresh_database(server_dsn, "bench_artifacts")
        await load_queue(dsn, objs)
        ours = await run_indexer(moto, dsn, settings_for(urls), len(objs), meters, profile=profile)
        naive_dsn = await fresh_database(server_dsn, "bench_artifacts_naive")
        await load_queue(naive_dsn, objs[: args.baseline_objects])
        naive = await run_naive(moto, naive_dsn, settings_for(urls), meters)
    finally:
        for server in servers:
            server.stop()

    trivial = None
    if args.trivial_s3:
        server = ServerProcess("--serve-trivial-s3")
        try:
            server.start()
            server.wait_ready()
            meters = (CpuMeter([server.pid]), postgres)
            urls = {f"s3-{k}.bench:9000": server.url for k in range(args.s3_servers)}
            trivial_ceiling = await run_ceiling("trivial", urls, objs[: args.ceiling_objects], args.concurrency, meters)
            trivial_store = await run_store("trivial", settings_for(urls), objs[: args.ceiling_objects],
                                            args.concurrency, meters)  # fmt: skip
            dsn = await fresh_database(server_dsn, "bench_artifacts_trivial")
            await load_queue(dsn, objs)
            trivial = (trivial_ceiling, trivial_store,
                       await run_indexer("trivial", dsn, settings_for(urls), len(objs), meters))
        finally:
            server.stop()

    print(f"\n## {args.objects} objects, concurrency {args.concurrency}; S3: {args.s3_servers} moto server(s)"
          + (", then a trivial keep-alive HEAD responder" if trivial else ""))  # fmt: skip
    report([ceiling, store, ours, naive, *(trivial or ())], cpus=cpus, servers=args.s3_servers, ceiling=ceiling,
           store=store, ours=ours, naive=naive, trivial=trivial)  # fmt: skip
    if profile:
        print_profile(profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=20_000, help="objects put and indexed")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="indexer workers (artifacts_workers) and concurrent calls of the raw aiobotocore and "
                        "store-alone runs")
    parser.add_argument("--s3-servers", type=int, default=1, help="moto processes; objects are spread over them")
    parser.add_argument("--baseline-objects", type=int, default=2_000, help="objects the naive loop indexes")
    parser.add_argument("--ceiling-objects", type=int, default=3_000,
                        help="objects the raw aiobotocore client and the store alone HEAD")
    parser.add_argument("--put-over-http", action="store_true",
                        help="put the objects with 64 concurrent put_object calls instead of storing them in moto's "
                        "backend before it serves (slow: moto does ~150 PUTs/s on 2 cores); also the way out if "
                        "a moto release changes the backend API the preloading uses")
    parser.add_argument("--no-trivial-s3", dest="trivial_s3", action="store_false",
                        help="skip the second measurement against a trivial keep-alive HEAD responder")
    parser.add_argument("--profile", action="store_true", help="cProfile the indexer run against moto (slows it)")
    # The server processes are this module too.
    parser.add_argument("--serve-moto", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-trivial-s3", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--moto-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_moto:
        serve_moto(args.port, index=args.moto_index, servers=args.s3_servers, preload=args.objects)
        return
    if args.serve_trivial_s3:
        serve_trivial_s3(args.port)
        return
    args.baseline_objects = min(args.baseline_objects, args.objects)
    args.ceiling_objects = min(args.ceiling_objects, args.objects)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
