"""CLI benchmark: `runledger runs list` as a user types it, process start included, over N runs.

    .venv/bin/python -m bench.cli [--runs 100000] [--steps-per-run 20] [--repeats 30] [--keep DIR] [--before DIR]

Setup as bench.queries: the embedded Postgres (unless RUNLEDGER_DATABASE_URL names a server), a
database bulk-loaded with N synthetic runs by bench.query_data, and `runledger api` in its own process
on 127.0.0.1. Then each command is run --repeats times, one after another, each a new process, timed
from spawning it to its exit with its whole output read (wall time, as a shell measures it):

* ``runledger runs list`` (the first 50 runs, a table) and ``runledger runs list -o json``;
* baselines in the same run: ``curl`` of the same API call (no Python at all), ``python -c pass``
  (the interpreter's own start-up) and ``python -c 'import runledger.client.commands'`` (start-up plus
  the imports a query command needs), so the figures say where the time goes;
* with ``--before DIR`` (a checkout of an earlier runledger, e.g. ``git worktree add DIR COMMIT``), the same
  ``runs list`` with that checkout's code first on the path: a before/after measured in the same run.

The code timed is compiled to bytecode first, as installing a wheel does: a checkout run with
PYTHONDONTWRITEBYTECODE set (or a read-only one) would otherwise compile every module on every run. The target is a round trip under 150 ms; the load average is printed with the figures,
  since other work may share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import query_load
from bench.queries import start_api, stop_api
from bench.query_data import Shape

DATABASE = "bench_cli"
TARGET_MS = 150.0


def timed(argv: list[str], *, repeats: int, env: dict[str, str], cwd: Path) -> list[float]:
    """Wall milliseconds of each run of `argv` (one warm-up run first, so files are in the page cache)."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True)
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
        if i:
            times.append(elapsed)
    return times


def report(name: str, times: list[float]) -> str:
    p90 = statistics.quantiles(times, n=10)[-1]
    return f"{name:<48} {len(times):>3} {statistics.mean(times):8.1f} {statistics.median(times):8.1f} {p90:8.1f} {min(times):8.1f}"


async def main_async(args: argparse.Namespace) -> None:
    shape = Shape(total=args.runs, steps_per_run=args.steps_per_run)
    admin_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    if admin_dsn is None:
        root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="runledger-bench-cli-"))
        admin_dsn = await asyncio.to_thread(query_load.start_embedded, root / "pgdata", keep=bool(args.keep))
        await query_load.set_durability(admin_dsn, query_load.LOAD_ONLY)
        try:
            dsn, load = await query_load.ensure_dataset(admin_dsn, DATABASE, shape, workers=args.workers, chunk_runs=2000)
        finally:
            await query_load.set_durability(admin_dsn, query_load.DURABLE)
    else:
        dsn, load = await query_load.ensure_dataset(admin_dsn, DATABASE, shape, workers=args.workers, chunk_runs=2000)
    print(f"dataset: {shape.total:,} runs x {shape.steps_per_run} steps, {load.rows:,} rows, "
          f"{'reused' if load.reused else 'loaded'} in {load.seconds:.0f} s", flush=True)  # fmt: skip
    proc, base = await start_api(dsn)
    try:
        env = {**os.environ, "RUNLEDGER_SERVER": base, "KUBECONFIG": os.devnull, "COLUMNS": ""}
        python = sys.executable
        commands = {
            "runledger runs list": [python, "-m", "runledger", "runs", "list"],
            "runledger runs list -o json": [python, "-m", "runledger", "runs", "list", "-o", "json"],
            "baseline: curl /api/v1/runs?limit=50": ["curl", "-sf", f"{base}/api/v1/runs?limit=50"],
            "baseline: python -c pass": [python, "-c", "pass"],
            "baseline: python -c 'import runledger.client.commands'": [python, "-c", "import runledger.client.commands"],
        }
        import runledger

        # Each checkout is both on PYTHONPATH and the working directory, since `python -m` and `-c` put the
        # working directory first on the path: run from another checkout, they would import that one.
        source = Path(runledger.__file__).resolve().parent.parent
        compileall.compile_dir(source / "runledger", quiet=1)
        commands = {name: (argv, {**env, "PYTHONPATH": str(source)}, source) for name, argv in commands.items()}
        if args.before:
            before = Path(args.before).resolve()
            compileall.compile_dir(before / "runledger", quiet=1)
            commands = {"before: runledger runs list": ([python, "-m", "runledger", "runs", "list"],
                                                         {**env, "PYTHONPATH": str(before)}, before),
                        **commands}  # fmt: skip
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'command (wall ms, process start included)':<48} {'n':>3} {'mean':>8} {'p50':>8} {'p90':>8} {'min':>8}")
        results = {}
        for name, (argv, command_env, cwd) in commands.items():
            results[name] = await asyncio.to_thread(timed, argv, repeats=args.repeats, env=command_env, cwd=cwd)
            print(report(name, results[name]), flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        p50 = statistics.median(results["runledger runs list"])
        print(f"runledger runs list p50 {p50:.1f} ms: {'meets' if p50 < TARGET_MS else 'misses'} the {TARGET_MS:.0f} ms target")
    finally:
        stop_api(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps-per-run", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=30, help="timed runs of each command")
    parser.add_argument("--keep", metavar="DIR", help="keep the Postgres data directory in DIR and reuse its dataset")
    parser.add_argument("--before", metavar="DIR", help="also time `runs list` with the runledger checkout in DIR")
    parser.add_argument("--workers", type=int, default=query_load.default_workers(), help="row-generating processes")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
