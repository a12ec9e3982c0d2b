"""Watch benchmark: `runledger run` (a real process) against the in-process Kubernetes API double.

    .venv/bin/python -m bench.watch [--workflows 10000] [--latency-events 3000] [--rate 1000]

Phases, all on the same embedded Postgres:

1. initial list of N active workflows (10 nodes each): objects/s from process start until all are
   stored (start-up included, so small N understates the rate);
2. throughput: one MODIFIED per workflow, sent as fast as the double can stream them: events/s
   end to end (event created -> row committed);
3. latency at a paced rate (default 1,000 events/s): event-to-row latency p50/p99, measured as
   runs.updated_at (Postgres' now(), the start of the writing transaction, so the commit itself,
   a few ms, is not included) minus the send time the event carries in a label;
4. the agent's peak RSS (VmHWM) with N workflows active.

The baseline, in the same run: the same agent configured to commit every run state on its own
(one writer, batches of one), which is what a persistence agent without group commit does.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.ingest import fresh_database
from runledger.metadata import embedded
from tests.support.kube_double import KubeDouble
from tests.support.kubeconfig import write_kubeconfig


def workflow(i: int) -> dict:
    name = f"bench-{i:06d}"
    nodes = {name: {"id": name, "name": name, "type": "DAG", "phase": "Running", "templateName": "main",
                    "startedAt": "2026-01-01T00:00:00Z", "children": [f"{name}-{j}" for j in range(9)]}}  # fmt: skip
    for j in range(9):
        nodes[f"{name}-{j}"] = {"id": f"{name}-{j}", "name": f"{name}.step-{j}", "displayName": f"step-{j}",
                                "type": "Pod", "phase": "Running", "templateName": "step", "boundaryID": name,
                                "startedAt": "2026-01-01T00:00:01Z"}  # fmt: skip
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": f"team-{i % 4}", "labels": {"pipeline/runid": f"r-{i}"}},
        "spec": {"arguments": {"parameters": [{"name": "lr", "value": str(i % 7)}]}},
        "status": {"phase": "Running", "startedAt": "2026-01-01T00:00:00Z", "nodes": nodes},
    }  # fmt: skip


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_for(conn: asyncpg.Connection, sql: str, expected: int, *, timeout: float = 600) -> float:
    started = time.perf_counter()
    while await conn.fetchval(sql) < expected:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(sql)
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def start_agent(dsn: str, config: Path, port: int, extra: dict[str, str]) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "RUNLEDGER_DATABASE_URL": dsn,
        "RUNLEDGER_KUBE_CONFIG": str(config),
        "RUNLEDGER_API_PORT": str(port),
        "RUNLEDGER_KUBE_WATCH_PODS": "false",
        "RUNLEDGER_LOG_LEVEL": "WARNING",
        **extra,
    }
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "runledger", "run", env=env,
                                                stdout=asyncio.subprocess.DEVNULL)  # fmt: skip


async def measure(server_dsn: str, name: str, n: int, latency_events: int, rate: float, extra: dict) -> dict:
    dsn = await fresh_database(server_dsn, name)
    results: dict = {}
    async with KubeDouble() as double:
        objects = [double.create("workflows", workflow(i)) for i in range(n)]
        config = write_kubeconfig(Path(tempfile.mkdtemp()) / "kubeconfig", double.url)
        proc = await start_agent(dsn, config, 18080 + len(name) % 7, extra)
        conn = await asyncpg.connect(dsn)
        try:
            results["list_seconds"] = await wait_for(conn, "SELECT count(*) FROM runs", n)
            await double.wait_for_watchers("workflows", 1, timeout=60)

            started = time.perf_counter()
            for obj in objects:
                obj = copy.deepcopy(obj)
                obj["metadata"]["labels"]["bench/round"] = "1"
                obj["status"]["nodes"][f"{obj['metadata']['name']}-0"]["phase"] = "Succeeded"
                double.update("workflows", obj)
                await asyncio.sleep(0)
            await wait_for(conn, "SELECT count(*) FROM runs WHERE labels->>'bench/round' = '1'", n)
            results["throughput_seconds"] = time.perf_counter() - started

            interval = 1.0 / rate
            started = time.perf_counter()
            for k in range(latency_events):
                obj = copy.deepcopy(double.get("workflows", f"team-{k % n % 4}", f"bench-{k % n:06d}"))
                obj["metadata"]["labels"]["bench/sent-at"] = f"{time.time():.6f}"
                obj["metadata"]["labels"]["bench/round"] = "2"
                double.update("workflows", obj)
                await asyncio.sleep(max(0.0, started + (k + 1) * interval - time.perf_counter()))
            await wait_for(conn, "SELECT count(*) FROM runs WHERE labels->>'bench/round' = '2'", min(latency_events, n))
            rows = await conn.fetch(
                "SELECT extract(epoch FROM updated_at) - (labels->>'bench/sent-at')::float8 AS latency "
                "FROM runs WHERE labels ? 'bench/sent-at'"
            )
            latencies = sorted(r["latency"] * 1000 for r in rows)
            results["p50_ms"] = statistics.median(latencies)
            results["p99_ms"] = latencies[int(len(latencies) * 0.99) - 1]
            results["peak_rss_mb"] = peak_rss_mb(proc.pid)
        finally:
            await conn.close()
            proc.terminate()
            await proc.wait()
    results["list_per_s"] = n / results["list_seconds"]
    results["events_per_s"] = n / results["throughput_seconds"]
    return results


async def main_async(args: argparse.Namespace) -> None:
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    if not server_dsn:
        pgdata = Path(tempfile.mkdtemp(prefix="runledger-bench-")) / "postgres"
        server_dsn = await embedded.start_embedded(pgdata, database="postgres")
    ours = await measure(server_dsn, "bench_watch", args.workflows, args.latency_events, args.rate, {})
    base = await measure(server_dsn, "bench_watch_base", args.workflows, args.latency_events, args.rate,
                         {"RUNLEDGER_INGEST_WORKERS": "1", "RUNLEDGER_INGEST_BATCH_RUNS": "1"})  # fmt: skip
    print(f"\n## runledger run vs the API double: {args.workflows} active workflows x 10 nodes")
    print(f"{'':<34}{'runledger':>12}{'commit-per-run':>16}{'ratio':>8}   target")
    rows = [
        ("initial list, objects/s", "list_per_s", ">= 2000"),
        ("watch throughput, events/s", "events_per_s", ">= 2000"),
        (f"latency p50 at {args.rate:.0f}/s, ms", "p50_ms", ""),
        (f"latency p99 at {args.rate:.0f}/s, ms", "p99_ms", "< 250"),
        ("agent peak RSS, MB", "peak_rss_mb", "< 300"),
    ]
    for label, key, target in rows:
        print(f"{label:<34}{ours[key]:>12.1f}{base[key]:>16.1f}{ours[key] / base[key]:>8.2f}   {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--latency-events", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
