"""Memory benchmark: the agent's RSS idle, with N active workflows, and replaying a large recording.

    .venv/bin/python -m bench.memory [--workflows 10000] [--replay-runs 20000] [--baseline TREE]
                                     [--tracemalloc DIR] [--skip idle,active,replay]

Three phases, each a real process of the checkout under test (its code found through PYTHONPATH):

1. idle: ``runledger run`` watching the Kubernetes API double, which holds nothing; RSS once the watch
   is open and the process has settled (target <= 120 MB);
2. active: ``runledger run`` against the double holding N running workflows (bench.watch's shape: a DAG
   node and nine running pods each); RSS once every one is stored and the process has settled, and
   the peak (VmHWM) on the way (target <= 200 MB at 10,000);
3. replay: ``runledger replay`` of a recording of R synthetic runs (bench.workflow_events, ~10 nodes,
   the final state of each); the process' peak RSS, from the kernel's rusage at exit (target <= 300 MB
   at 20,000).

``--baseline TREE`` runs the same phases with another checkout's code (e.g. ``git archive integrate``
unpacked somewhere) right after, in the same run, and prints the ratios. ``--tracemalloc DIR`` runs the
agent under tracemalloc (slower, and its own bookkeeping adds to RSS: read only its ranking) and leaves
in DIR the top allocation sites by line and by file once the active workflows are stored, with gc counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import orjson

from bench.ingest import fresh_database
from bench.watch import load, workflow
from runledger.store import embedded
from tests.support.kube_double import KubeDouble
from tests.support.kubeconfig import write_kubeconfig

HERE = Path(__file__).resolve().parent.parent


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def settled_rss(pid: int, *, seconds: float = 1.5, timeout: float = 60) -> float:
    """RSS once it has moved by less than 1 MB for `seconds` (the writers and the collector are done)."""
    deadline = time.monotonic() + timeout
    last, since = status_mb(pid, "VmRSS"), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = status_mb(pid, "VmRSS")
        if abs(now - last) >= 1.0:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return now
    return status_mb(pid, "VmRSS")


def environment(tree: Path, dsn: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RUNLEDGER_", "KUBE"))
    }
    return env | {
        "PYTHONPATH": str(tree),
        "RUNLEDGER_DATABASE_URL": dsn,
        "RUNLEDGER_LOG_LEVEL": "WARNING",
        **extra,
    }


def agent_command(tracemalloc_dir: Path | None) -> list[str]:
    if tracemalloc_dir is None:
        return [sys.executable, "-m", "runledger", "run"]
    return [sys.executable, "-m", "bench.memory_probe", str(tracemalloc_dir), "run"]


async def watching_agent(
    tree: Path,
    server_dsn: str,
    name: str,
    n: int,
    *,
    port: int,
    tracemalloc_dir: Path | None = None,
) -> dict:
    """`runledger run` against a double of `n` running workflows: RSS once all are stored."""
    dsn = await fresh_database(server_dsn, name)
    async with KubeDouble() as double:
        for i in range(n):
            double.create("workflows", workflow(i))
        config = write_kubeconfig(Path(tempfile.mkdtemp()) / "kubeconfig", double.url)
        env = environment(tree, dsn, {"RUNLEDGER_KUBE_CONFIG": str(config), "RUNLEDGER_API_PORT": str(port),
                                      "RUNLEDGER_KUBE_WATCH_PODS": "false"})  # fmt: skip
        # cwd: the bench package (for the probe) comes from this checkout, runledger from the tree's.
        proc = await asyncio.create_subprocess_exec(
            *agent_command(tracemalloc_dir), env=env | {"PYTHONPATH": f"{tree}{os.pathsep}{HERE}"},
            stdout=asyncio.subprocess.DEVNULL, cwd=str(tree),
        )  # fmt: skip
        conn = await asyncpg.connect(dsn)
        try:
            started = time.perf_counter()
            await double.wait_for_watchers("workflows", 1, timeout=600)
            while await conn.fetchval("SELECT count(*) FROM runs") < n:
                if proc.returncode is not None or time.perf_counter() - started > 900:
                    raise RuntimeError(
                        f"the agent stopped or stalled before storing {n} runs"
                    )
                await asyncio.sleep(0.1)
            result = {"seconds": time.perf_counter() - started, "rss_mb": await settled_rss(proc.pid),
                      "peak_mb": status_mb(proc.pid, "VmHWM"), "load": load()}  # fmt: skip
            if tracemalloc_dir is not None:
                done = tracemalloc_dir / "snapshot.done"
                os.kill(proc.pid, signal.SIGUSR1)
                deadline = time.monotonic() + 300
                while not done.exists() and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
            return result
        finally:
            await conn.close()
            proc.terminate()
            await proc.wait()


def replay_peak_mb(tree: Path, dsn: str, recording: Path) -> dict:
    env = environment(tree, dsn, {})
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "runledger", "replay", str(recording)], env=env, cwd=str(tree),
                            stdout=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"runledger replay exited with {proc.returncode}")
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": usage.ru_maxrss / 1024,
        "load": load(),
    }


def recording_of(runs: int, directory: Path) -> Path:
    """The final state of each of `runs` runs as an ADDED event (what a relist or an archive import sends),
    made 1,000 runs at a time and streamed to the file: every event of every run would be gigabytes."""
    path = directory / f"replay-{runs}.jsonl"
    if not path.exists():
        from bench.workflow_events import generate_events

        partial = path.with_suffix(".partial")
        with partial.open("wb") as out:
            for seed, start in enumerate(range(0, runs, 1000)):
                last: dict[str, dict] = {}
                for event in generate_events(runs=min(1000, runs - start), nodes_per_run=10, seed=seed):
                    last[event["object"]["metadata"]["uid"]] = event["object"]
                out.writelines(orjson.dumps({"type": "ADDED", "object": obj}) + b"\n" for obj in last.values())
        partial.rename(path)
    return path


async def measure(
    tree: Path,
    server_dsn: str,
    tag: str,
    args: argparse.Namespace,
    recording: Path | None,
) -> dict:
    results: dict = {}
    if "idle" not in args.skip:
        results["idle"] = await watching_agent(
            tree, server_dsn, f"bench_mem_idle_{tag}", 0, port=18191
        )
        print(f"  [{tag}] idle: {results['idle']}", flush=True)
    if "active" not in args.skip:
        results["active"] = await watching_agent(tree, server_dsn, f"bench_mem_active_{tag}", args.workflows,
                                                 port=18192, tracemalloc_dir=args.tracemalloc if tag == "ours" else None)  # fmt: skip
        print(f"  [{tag}] active: {results['active']}", flush=True)
    if recording is not None:
        dsn = await fresh_database(server_dsn, f"bench_mem_replay_{tag}")
        results["replay"] = replay_peak_mb(tree, dsn, recording)
        print(f"  [{tag}] replay: {results['replay']}", flush=True)
    return results


async def main_async(args: argparse.Namespace) -> None:
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    tmp = Path(tempfile.mkdtemp(prefix="runledger-bench-memory-"))
    if not server_dsn:
        server_dsn = await embedded.start_embedded(
            tmp / "postgres", database="postgres"
        )
    recording = None
    if "replay" not in args.skip:
        recording = recording_of(args.replay_runs, args.recordings or tmp)
        print(
            f"recording: {recording} ({recording.stat().st_size / 1e6:.0f} MB)",
            flush=True,
        )
    if args.tracemalloc:
        args.tracemalloc.mkdir(parents=True, exist_ok=True)
    ours = await measure(HERE, server_dsn, "ours", args, recording)
    base = (
        await measure(args.baseline, server_dsn, "base", args, recording)
        if args.baseline
        else None
    )
    rows = [
        ("idle", "rss_mb", "idle `runledger run`, RSS MB", "<= 120"),
        (
            "active",
            "rss_mb",
            f"{args.workflows:,} active workflows stored, RSS MB",
            "<= 200",
        ),
        ("active", "peak_mb", f"{args.workflows:,} active workflows, peak RSS MB", ""),
        (
            "replay",
            "peak_mb",
            f"replay of {args.replay_runs:,} runs, peak RSS MB",
            "<= 300",
        ),
        ("replay", "seconds", f"replay of {args.replay_runs:,} runs, seconds", ""),
    ]
    print(
        f"\n{'':<46}{'this tree':>10}"
        + (f"{'baseline':>10}{'ratio':>8}" if base else "")
        + "   target"
    )
    for phase, key, label, target in rows:
        if phase not in ours:
            continue
        line = f"{label:<46}{ours[phase][key]:>10.1f}"
        if base:
            line += (
                f"{base[phase][key]:>10.1f}{ours[phase][key] / base[phase][key]:>8.2f}"
            )
        print(line + f"   {target}")
    print(load() + f" on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--replay-runs", type=int, default=20_000)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout, measured the same way after this one",
    )
    parser.add_argument(
        "--recordings",
        type=Path,
        help="where the replay's recording is kept (reused if there)",
    )
    parser.add_argument(
        "--tracemalloc",
        type=Path,
        help="profile the active phase's agent; reports go here",
    )
    parser.add_argument(
        "--skip", type=lambda s: set(s.split(",")), default=set(), help="phases to skip"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
