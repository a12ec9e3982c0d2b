"""What keeping the pipeline analytics costs a writer of one large run in flight.

    .venv/bin/python -m bench.stats_writes [--steps 2000] [--writes 20] [--per-write N] [--rounds 2] [TREE ...]

One run of `--steps` Pod steps (four templates) is written `--writes` times through ``RunWriter``: first with
every step Running, then each write finishing the next `--per-write` of them (default: an equal share, the
last of them with the run). Per
write: the writer's transaction (wall), the Postgres CPU of its connection's backend (from /proc), and the
wall time of the analytics statements within it (``lock_runs_for_stats``, the figures before, ``stats_apply``).
The database is analysed after the first write: plans are made as on a database with statistics.

Each TREE (a checkout; default: this one) writes in a process of its own, with its own code and migrations,
into a fresh database of one embedded Postgres; the trees take turns, `--rounds` times, so the machine's load
falls on each alike. The first write (the whole run, first seen) is reported apart from the others.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TEMPLATES = ("load", "fit", "score", "eval")
STATS_STATEMENTS = ("lock_runs_for_stats", "stats_contribution", "stats_before", "stats_apply")


def workflow(steps: int) -> dict[str, Any]:
    name = "big"
    nodes = {name: {"id": name, "name": name, "type": "DAG", "phase": "Running", "templateName": "main",
                    "startedAt": "2026-01-01T00:00:00Z", "children": [f"{name}-{j}" for j in range(steps)]}}  # fmt: skip
    for j in range(steps):
        nodes[f"{name}-{j}"] = {"id": f"{name}-{j}", "name": f"{name}.step-{j}", "type": "Pod", "phase": "Running",
                                "templateName": TEMPLATES[j % len(TEMPLATES)], "boundaryID": name,
                                "startedAt": "2026-01-01T00:00:01Z"}  # fmt: skip
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": name, "namespace": "ml", "uid": "uid-big", "resourceVersion": "1",
                     "creationTimestamp": "2026-01-01T00:00:00Z",
                     "labels": {"workflows.argoproj.io/workflow-template": "fan-out"}},
        "status": {"phase": "Running", "startedAt": "2026-01-01T00:00:00Z", "nodes": nodes},
    }  # fmt: skip


def states(steps: int, writes: int, per_write: int | None) -> list[dict[str, Any]]:
    """The run's objects, one per write: each finishes the next `per_write` steps (None: an equal share)."""
    obj = workflow(steps)
    out = [copy.deepcopy(obj)]
    per_write = per_write or -(-steps // (writes - 1))
    for k in range(1, writes):
        for j in range((k - 1) * per_write, min(k * per_write, steps)):
            node = obj["status"]["nodes"][f"big-{j}"]
            node["phase"], node["finishedAt"] = "Succeeded", f"2026-01-01T00:{k:02d}:{j % 60:02d}Z"
        if k == writes - 1:
            obj["status"]["nodes"]["big"].update(phase="Succeeded", finishedAt="2026-01-01T01:00:00Z")
            obj["status"].update(phase="Succeeded", finishedAt="2026-01-01T01:00:00Z")
        obj["metadata"]["resourceVersion"] = str(k + 1)
        out.append(copy.deepcopy(obj))
    return out


class _Timed:
    """A connection whose analytics statements (by the name of their query) are timed."""

    def __init__(self, conn: Any, names: dict[str, str]) -> None:
        self._conn, self._names, self.seconds = conn, names, 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def _timed(self, method: str, sql: str, *args: Any) -> Any:
        if sql not in self._names:
            return await getattr(self._conn, method)(sql, *args)
        started = time.perf_counter()
        try:
            return await getattr(self._conn, method)(sql, *args)
        finally:
            self.seconds += time.perf_counter() - started

    async def execute(self, sql: str, *args: Any) -> Any:
        return await self._timed("execute", sql, *args)

    async def fetch(self, sql: str, *args: Any) -> Any:
        return await self._timed("fetch", sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._timed("fetchrow", sql, *args)


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def child(dsn: str, database: str, steps: int, writes: int, per_write: int | None) -> dict[str, Any]:
    from bench.ingest import fresh_database
    from runledger.agent.translate import translate_workflow
    from runledger.store import connection as db
    from runledger.store.sql_blocks import q
    from runledger.store.writer import RunWriter

    names = {}
    for name in STATS_STATEMENTS:
        try:
            names[q(name)] = name
        except KeyError:  # a tree without this statement
            pass
    objects = states(steps, writes, per_write)
    target = await fresh_database(dsn, database)
    conn = await db.connect(target)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        writer, timed = RunWriter(), _Timed(conn, names)
        rows = []
        for obj in objects:
            state = translate_workflow(obj)
            timed.seconds, cpu, started = 0.0, _backend_cpu(pid), time.perf_counter()
            await writer.write(timed, [state])
            rows.append({"write_ms": (time.perf_counter() - started) * 1000, "stats_ms": timed.seconds * 1000,
                         "pg_cpu_ms": (_backend_cpu(pid) - cpu) * 1000})  # fmt: skip
            if len(rows) == 1:  # planned as on a database with statistics, not on empty tables
                await conn.execute("ANALYZE")
        live = await conn.fetchval("SELECT to_regclass('stats_live') IS NOT NULL")
        return {"writes": rows, "stats_live": live}
    finally:
        await conn.close()


def _summary(tree: str, runs: list[dict[str, Any]]) -> str:
    first = [r["writes"][0] for r in runs]
    later = [w for r in runs for w in r["writes"][1:-1]]
    last = [r["writes"][-1] for r in runs]

    def fig(rows: list[dict], key: str) -> str:
        values = [row[key] for row in rows]
        if key == "pg_cpu_ms":  # counted in clock ticks (10 ms): only a mean over many writes says anything
            return f"{statistics.fmean(values):.1f} (mean)"
        return f"{statistics.median(values):.1f}" + (f" (max {max(values):.1f})" if len(values) > 1 else "")

    parts = [f"{tree}:"]
    for what, rows in (("first write", first), ("writes in flight", later), ("finishing write", last)):
        parts.append(f"  {what}: stats {fig(rows, 'stats_ms')} ms, transaction {fig(rows, 'write_ms')} ms, "
                     f"Postgres CPU {fig(rows, 'pg_cpu_ms')} ms")  # fmt: skip
    return "\n".join(parts)


async def main_async(args: argparse.Namespace) -> None:
    from runledger.store import embedded

    trees = [Path(t).resolve() for t in args.trees] or [Path(__file__).resolve().parent.parent]
    # The server stops when this process exits; its directory is left for the caller to remove.
    pgdata = Path(tempfile.mkdtemp(prefix="runledger-stats-writes-")) / "postgres"
    print(f"embedded Postgres in {pgdata.parent}", file=sys.stderr)
    dsn = await embedded.start_embedded(pgdata, database="postgres")
    results: dict[Path, list[dict]] = {t: [] for t in trees}
    for round_ in range(args.rounds):
        for i, tree in enumerate(trees):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(
                # -P: this file from here, everything it imports (bench.ingest, runledger) from the tree.
                [sys.executable, "-P", __file__, "--child", dsn, f"bench_stats_writes_{i}",
                 "--steps", str(args.steps), "--writes", str(args.writes), "--per-write", str(args.per_write or 0)],
                cwd=tree, env=env, check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            results[tree].append(json.loads(out.splitlines()[-1]))
            print(f"round {round_ + 1}, {tree}: done", file=sys.stderr)
    each = f"{args.per_write} step(s)" if args.per_write else "an equal share of the steps"
    print(f"## a run of {args.steps} steps written {args.writes} times, each finishing {each}"
          f" (medians over {args.rounds} rounds; ms)")
    for tree, runs in results.items():
        print(_summary(str(tree), runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="*", help="checkouts to compare (default: this one)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--per-write", type=int, help="steps each write finishes (default: an equal share)")
    parser.add_argument("--child", nargs=2, metavar=("DSN", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child[0], args.child[1], args.steps, args.writes, args.per_write or None)
        print(json.dumps(asyncio.run(result)))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
