"""Watch benchmark: `runledger run` (a real process) against the in-process Kubernetes API double.

    .venv/bin/python -m bench.watch [--workflows 10000] [--latency-events 3000] [--rate 1000]
                                    [--no-baseline] [--profile DIR]

Quick mode while iterating: ``--workflows 3000 --latency-events 1000 --no-baseline``.

Phases, all on the same embedded Postgres:

1. initial list of N active workflows (10 nodes each): objects/s from process start until all are
   stored (start-up included, so small N understates the rate);
2. throughput: one MODIFIED per workflow, events/s end to end (event released -> row committed).
   Twice: streamed live, as fast as the double makes them (the double's own CPU per event, on the
   same machine, then bounds the figure), and from a backlog the double serialised beforehand with
   the watch paused (the headline figure: the agent's);
3. latency at a paced rate (default 1,000 events/s): event-to-row latency p50/p99, measured as
   runs.updated_at (Postgres' now(), the start of the writing transaction, so the commit itself,
   a few ms, is not included) minus the send time the event carries in a label;
4. the agent's peak RSS (VmHWM) with N workflows active.

The double runs in this process and shares the machine with the agent and Postgres, so the CPU
each of the three used during each throughput phase is reported too (per event, and in cores): a
figure limited by the double or by Postgres is not a figure about the agent. The double's commit
of one event (copies of the object, stdlib JSON) costs several hundred microseconds of CPU, about
what the agent spends persisting it; a Go API server serves a backlog for far less, hence the
pre-serialised phase. The modified objects are built before either clock starts.
``--profile DIR`` runs the agent under py-spy (``pip install py-spy``) and leaves collapsed stacks
of the whole run in DIR.

The baseline, in the same run: the same agent configured to commit every run state on its own
(one writer, batches of one), which is what a persistence agent without group commit does.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.ingest import fresh_database
from runledger.store import embedded
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


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of a process (and of its reaped children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


class CpuMeter:
    """CPU seconds used by the agent, this process (the double) and the Postgres server."""

    def __init__(self, agent_pid: int, postmaster_pid: int | None) -> None:
        self.agent_pid, self.postmaster_pid = agent_pid, postmaster_pid

    def sample(self) -> dict[str, float]:
        pg = float("nan")
        if self.postmaster_pid:
            # Exited backends are in the postmaster's cutime; live ones are summed one by one.
            pg = cpu_seconds(self.postmaster_pid, children=True)
            pg += sum(cpu_seconds(p) for p in descendants(self.postmaster_pid))
        return {"agent": cpu_seconds(self.agent_pid), "double": time.process_time(), "postgres": pg}


def agent_pid(proc: asyncio.subprocess.Process, profiled: bool) -> int:
    """The runledger process: py-spy's child when profiling."""
    if not profiled:
        return proc.pid
    for _ in range(100):
        children = descendants(proc.pid)
        if children:
            return children[0]
        time.sleep(0.05)
    raise RuntimeError("py-spy did not start the agent")


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


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


async def start_agent(
    dsn: str, config: Path, port: int, extra: dict[str, str], profile: Path | None
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "RUNLEDGER_DATABASE_URL": dsn,
        "RUNLEDGER_KUBE_CONFIG": str(config),
        "RUNLEDGER_API_PORT": str(port),
        "RUNLEDGER_KUBE_WATCH_PODS": "false",
        "RUNLEDGER_LOG_LEVEL": "WARNING",
        **extra,
    }
    command = [sys.executable, "-m", "runledger", "run"]
    if profile is not None:
        py_spy = Path(sys.executable).with_name("py-spy")
        command = [str(py_spy), "record", "--format", "raw", "--rate", "200", "--nonblocking",
                   "--output", str(profile), "--", *command]  # fmt: skip
    return await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL)


async def throughput(
    double: KubeDouble, conn: asyncpg.Connection, meter: CpuMeter, objects: list[dict], round_: str, *, prepared: bool
) -> dict:
    """One MODIFIED per workflow; seconds from the first event to the last row, and CPU used meanwhile.

    prepared=False: the double commits and serialises each event while the clock runs (its CPU shares
    the machine with the agent's). prepared=True: it does so with the watch paused, and the clock starts
    when the stream is released, as from an API server with a backlog: what is timed is the agent.
    """
    modified = []
    for obj in objects:
        obj = double.get("workflows", obj["metadata"]["namespace"], obj["metadata"]["name"])
        obj["metadata"]["labels"]["bench/round"] = round_
        node = obj["status"]["nodes"][f"{obj['metadata']['name']}-{len(round_) - 1}"]
        node["phase"] = "Succeeded"
        modified.append(obj)
    result: dict = {"load": load()}
    if prepared:
        double.pause_watches("workflows")
        for obj in modified:
            double.update("workflows", obj)
    before = meter.sample()
    started = time.perf_counter()
    if prepared:
        double.resume_watches("workflows")
    else:
        for obj in modified:
            double.update("workflows", obj)
            await asyncio.sleep(0)
    result["sent_seconds"] = time.perf_counter() - started
    sql = f"SELECT count(*) FROM runs WHERE labels->>'bench/round' = '{round_}'"
    result["seconds"] = time.perf_counter() - started + await wait_for(conn, sql, len(objects))
    after = meter.sample()
    result["cpu"] = {k: after[k] - before[k] for k in before}
    result["events_per_s"] = len(objects) / result["seconds"]
    return result


async def measure(
    server_dsn: str,
    name: str,
    n: int,
    latency_events: int,
    rate: float,
    extra: dict,
    *,
    postmaster_pid: int | None,
    profile: Path | None,
) -> dict:
    dsn = await fresh_database(server_dsn, name)
    results: dict = {}
    async with KubeDouble() as double:
        objects = [double.create("workflows", workflow(i)) for i in range(n)]
        config = write_kubeconfig(Path(tempfile.mkdtemp()) / "kubeconfig", double.url)
        proc = await start_agent(dsn, config, 18080 + len(name) % 7, extra, profile)
        pid = agent_pid(proc, profile is not None)
        meter = CpuMeter(pid, postmaster_pid)
        conn = await asyncpg.connect(dsn)
        try:
            results["list_seconds"] = await wait_for(conn, "SELECT count(*) FROM runs", n)
            await double.wait_for_watchers("workflows", 1, timeout=60)

            results["live"] = await throughput(double, conn, meter, objects, "1", prepared=False)
            results["prepared"] = await throughput(double, conn, meter, objects, "1b", prepared=True)

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
            results["peak_rss_mb"] = peak_rss_mb(pid)
        finally:
            await conn.close()
            if profile is not None:
                os.kill(pid, signal.SIGTERM)  # py-spy writes its output once its child exits
            else:
                proc.terminate()
            await proc.wait()
    results["list_per_s"] = n / results["list_seconds"]
    results["events_per_s"] = results["prepared"]["events_per_s"]
    results["live_events_per_s"] = results["live"]["events_per_s"]
    return results


async def main_async(args: argparse.Namespace) -> None:
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    postmaster_pid = None
    if not server_dsn:
        pgdata = Path(tempfile.mkdtemp(prefix="runledger-bench-")) / "postgres"
        server_dsn = await embedded.start_embedded(pgdata, database="postgres")
        postmaster_pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    profile = None
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        profile = args.profile / "agent.txt"
    common = {"postmaster_pid": postmaster_pid}
    ours = await measure(server_dsn, "bench_watch", args.workflows, args.latency_events, args.rate, {},
                         profile=profile, **common)  # fmt: skip
    print(f"\n## runledger run vs the API double: {args.workflows} active workflows x 10 nodes")
    for key, what in (("live", "streamed while the double makes them"), ("prepared", "pre-serialised backlog")):
        phase = ours[key]
        print(f"throughput, {what} ({phase['load']}): sent in {phase['sent_seconds']:.2f}s, "
              f"all persisted in {phase['seconds']:.2f}s = {phase['events_per_s']:.0f} events/s")  # fmt: skip
        for who, seconds in phase["cpu"].items():
            print(f"  CPU {who:<9}{seconds:>7.2f}s  {seconds / phase['seconds']:>5.2f} cores"
                  f"  {seconds / args.workflows * 1e6:>7.0f} us/event")  # fmt: skip
    if profile is not None:
        print(f"agent profile (py-spy, collapsed stacks): {profile}")
    rows = [
        ("initial list, objects/s", "list_per_s", ">= 2000"),
        ("watch throughput, events/s", "events_per_s", ">= 2000"),
        ("  streamed live, events/s", "live_events_per_s", ""),
        (f"latency p50 at {args.rate:.0f}/s, ms", "p50_ms", ""),
        (f"latency p99 at {args.rate:.0f}/s, ms", "p99_ms", "< 250"),
        ("agent peak RSS, MB", "peak_rss_mb", "< 300"),
    ]
    if args.no_baseline:
        for label, key, target in rows:
            print(f"{label:<34}{ours[key]:>12.1f}   {target}")
        return
    base = await measure(server_dsn, "bench_watch_base", args.workflows, args.latency_events, args.rate,
                         {"RUNLEDGER_INGEST_WORKERS": "1", "RUNLEDGER_INGEST_BATCH_RUNS": "1"},
                         profile=None, **common)  # fmt: skip
    print(f"{'':<34}{'runledger':>12}{'commit-per-run':>16}{'ratio':>8}   target")
    for label, key, target in rows:
        print(f"{label:<34}{ours[key]:>12.1f}{base[key]:>16.1f}{ours[key] / base[key]:>8.2f}   {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--latency-events", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the commit-per-run agent (quicker)")
    parser.add_argument("--profile", type=Path, help="run the agent under py-spy; collapsed stacks go to this dir")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
