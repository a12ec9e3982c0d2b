"""Pipeline analytics benchmark: the stats endpoints at a million runs, beside the same answer by a scan.

    .venv/bin/python -m bench.stats [--runs 1000000] [--requests 200] [--days 30] [--scans 3] [--keep DIR]
                                    [--baseline TREE]

Setup: the embedded Postgres (as bench.queries tunes it), a database migrated by the real
migrations, and N runs generated straight in SQL (replaying a million workflows through the agent
would take hours on a small machine): runs created evenly over the last --days days up to now,
20 pipelines, 8 namespaces, ~5 % Failed, 2 % Error, the newest 0.05 % Running; each run with a
`prep` pod, a `fit` Retry node with one attempt (two, the first failed, for every tenth run), and an
`eval` pod that fails with the run (OOMKilled, Evicted, exit code 1 or a deadline, by turn);
resourcesDuration on the runs and pods. The rollups are then built the way migration 0020 builds
them on an existing database (``stats_rebuild()``), timed, and the read's queries are profiled once
(EXPLAIN (ANALYZE, BUFFERS): time, rows, buffers) over the longest window.

Measured: ``runledger api`` in its own process, one keep-alive client, one request at a time
(bench.queries' measure_http): the default window (7 days), 30 days, one namespace, and one
pipeline's templates; p50/p99 in ms. Baseline in the same run: the same run-level figures computed
by a scan of the runs (tests/support/stats_scan, exact percentiles), straight through asyncpg,
over the same windows. The answers are compared (counts exact, p50/p95 within the bound).

``--keep DIR`` keeps the server's data there and reuses its dataset (a million runs take ~5 minutes to
build), migrated to this checkout's schema. ``--baseline TREE`` times the same requests against an API run
from another checkout (e.g. ``git archive integrate``) on a copy of the dataset taken before this checkout's
migrations first reach it (``bench_stats_base``, kept with the dataset): both APIs run side by side, and each
query is timed on one, then the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import asyncpg

from bench import query_load
from bench.ingest import fresh_database
from bench.queries import Result, measure_direct, measure_http, start_api, stop_api
from runledger.store import connection as db
from runledger.store import embedded, migrations
from runledger.store.pipeline_stats import EVERY_NAMESPACE, PERCENTILE_RELATIVE_ERROR
from runledger.store.sql_blocks import block, q
from tests.support.stats_scan import scan

TARGET_MS = 50.0

GENERATE = """
WITH params AS (SELECT $1::int AS total, $2::interval AS span, now() AS at_end)
INSERT INTO runs (id, namespace, name, uid, pipeline_name, phase, message, created_at, started_at, finished_at,
                  resources_duration, failed_step, fp)
SELECT 'r' || i, 'team-' || (i % 8), 'run-' || i, 'r' || i, 'pipeline-' || ((i * 7) % 20),
       CASE WHEN i > total - total / 2000 THEN 'Running' WHEN i % 20 = 0 THEN 'Failed'
            WHEN i % 50 = 1 THEN 'Error' ELSE 'Succeeded' END,
       CASE WHEN i % 20 = 0 THEN 'child failed' END,
       c, c + make_interval(secs => i % 60),
       CASE WHEN i <= total - total / 2000 THEN c + make_interval(secs => i % 60 + 60 + (i * 37) % 3000) END,
       jsonb_build_object('cpu', i % 500, 'memory', i % 2000)
           || CASE WHEN i % 5 = 0 THEN jsonb_build_object('nvidia.com/gpu', i % 300) ELSE '{}'::jsonb END,
       CASE WHEN i % 20 = 0 THEN jsonb_build_object('id', 'r' || i || '-eval', 'name', 'eval', 'template', 'eval',
                                                  'message', NULL, 'failure', 'step eval failed') END,
       0
FROM params, generate_series(1, (SELECT total FROM params)) AS i,
     LATERAL (SELECT at_end - span + span * (i::float8 / total) AS c) AS t
"""
GENERATE_STEPS = """
INSERT INTO steps (run_id, id, name, type, template, phase, started_at, finished_at, exit_code, message,
                   resources_duration, fp)
SELECT r.id, r.id || '-' || s.suffix, s.suffix, s.type, s.template,
       CASE WHEN s.suffix = 'eval' AND r.phase IN ('Failed', 'Error') THEN 'Failed'
            WHEN s.suffix = 'fit-1' AND n % 10 = 0 THEN 'Failed'
            WHEN r.phase = 'Running' THEN 'Running' ELSE 'Succeeded' END,
       r.started_at + make_interval(secs => s.offset_s), r.started_at + make_interval(secs => s.offset_s + 5 + n % 90),
       CASE WHEN s.suffix = 'eval' AND r.phase = 'Failed' AND n % 80 = 40 THEN 1 END,
       CASE WHEN s.suffix = 'eval' AND r.phase IN ('Failed', 'Error')
            THEN (ARRAY['OOMKilled (exit code 137)', 'pod deleted: the node was low on resource: memory',
                        'Error (exit code 1)', 'Step exceeded its deadline'])[1 + n % 4] END,
       CASE WHEN s.type = 'Pod' THEN jsonb_build_object('cpu', n % 100, 'memory', n % 400) ELSE '{}'::jsonb END,
       0
FROM (SELECT id, phase, started_at, substr(id, 2)::int AS n FROM runs) AS r
CROSS JOIN (VALUES ('prep', 'Pod', 'prep', 0), ('fit', 'Retry', 'fit', 10), ('fit-1', 'Pod', 'fit', 10),
                   ('fit-2', 'Pod', 'fit', 100), ('eval', 'Pod', 'eval', 200)) AS s (suffix, type, template, offset_s)
WHERE s.suffix <> 'fit-2' OR r.n % 10 = 0
"""
GENERATE_EDGES = """
INSERT INTO step_edges (run_id, parent_id, child_id)
SELECT s.run_id, s.run_id || '-fit', s.id FROM steps s WHERE s.name IN ('fit-1', 'fit-2')
"""


async def build(dsn: str, *, runs: int, days: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.execute(GENERATE, runs, timedelta(days=days))
        await conn.execute(GENERATE_STEPS)
        await conn.execute(GENERATE_EDGES)
        await conn.execute("VACUUM ANALYZE")
        generated = time.perf_counter() - started
        steps = await conn.fetchval("SELECT count(*) FROM steps")
        print(f"generated {runs:,} runs, {steps:,} steps in SQL in {generated:.0f} s", flush=True)
        started = time.perf_counter()
        await conn.execute("SELECT stats_rebuild()")
        await conn.execute("VACUUM ANALYZE stats_rollup, stats_rollup_causes")
        rebuilt = time.perf_counter() - started
        rows = await conn.fetchval("SELECT (SELECT count(*) FROM stats_rollup) + (SELECT count(*) FROM stats_rollup_causes)")
        print(f"rollups built from the stored runs (stats_rebuild, as migrations 0020 and 0024 do) in {rebuilt:.0f} s "
              f"({runs / rebuilt:,.0f} runs/s): {rows:,} rollup rows", flush=True)  # fmt: skip
    finally:
        await conn.close()


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def compare(session: aiohttp.ClientSession, conn: asyncpg.Connection, base: str, since: datetime,
                  until: datetime) -> str:  # fmt: skip
    """The endpoint's answer against the scan's over one window: '' when they agree, else what differs."""
    async with session.get(f"{base}/api/v1/stats/pipelines?since={_iso(since)}&until={_iso(until)}") as resp:
        answer = await resp.json()
    exact = await scan(conn, since=datetime.fromisoformat(answer["since"]), until=datetime.fromisoformat(answer["until"]))
    wrong = []
    for g in answer["groups"]:
        e = exact[g["name"] or ""]
        if (g["count"], g["succeeded"], g["failed"], g["retries"], g["flaky"]) != (
            e["n"], e["succeeded"], e["failed"], e["retries"], e["flaky"]
        ):
            wrong.append(f"{g['name']}: counts")
        for p, key in ((0.5, "p50"), (0.95, "p95")):
            got, true = g["duration"][f"{key}_seconds"], float(e[f"duration_{key}"])
            if abs(got - true) > max(true * PERCENTILE_RELATIVE_ERROR, 0.5) + 1e-9:
                wrong.append(f"{g['name']}: duration {key} {got:.1f} vs {true:.1f}")
    if len(answer["groups"]) != len(exact):
        wrong.append(f"{len(answer['groups'])} pipelines vs {len(exact)}")
    return "; ".join(wrong)


async def explain(dsn: str, *, days: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each answer's statement (stats_read), over 7 days and the longest window."""
    until = _ceil_day(datetime.now(timezone.utc))
    answers = {"every pipeline": ("pipeline", "stats_every_pipeline", [EVERY_NAMESPACE], None),
               "one namespace": ("pipeline", "stats_every_pipeline", ["team-0"], None),
               "templates": ("template", "stats_one_pipeline", [EVERY_NAMESPACE], "pipeline-0")}  # fmt: skip
    conn = await asyncpg.connect(dsn, server_settings={"max_parallel_workers_per_gather": "0"})  # as the API reads
    try:
        for span in (7, days + 1):
            for answer, (group, which, namespaces, pipeline) in answers.items():
                fragments = {"group": group, "which": block(which), "window": block("stats_window")}
                parts = {name: q(f"stats_{name}", **fragments) for name in ("totals", "causes", "histograms")}
                args = (until - timedelta(days=span), until, namespaces, pipeline)
                plan = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {q('stats_read', **parts)}", *args)]
                rows = plan[0].split("actual time=")[-1].split(" rows=")[-1].split()[0]
                buffers = next((line.strip() for line in plan if "Buffers:" in line), "")
                print(f"stats_read, {answer}, {span} days: {plan[-2].strip()}, {plan[-1].strip()}, {rows} rows; {buffers}",
                      flush=True)  # fmt: skip
    finally:
        await conn.close()


def _ceil_day(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


async def run(apis: dict[str, tuple[str, Path | None]], *, dsn: str, requests: int, days: int,
              scans: int) -> list[Result]:  # fmt: skip
    """Each query against each API of `apis` (label: database, checkout; "" is this one), one API after the other
    query by query, so the load the machine is under falls on them alike; then the scans, and the comparison."""
    started = {label: await start_api(db_dsn, source=source) for label, (db_dsn, source) in apis.items()}
    now = datetime.now(timezone.utc)
    windows = {"7 days (default)": (now - timedelta(days=7), now), f"{days} days": (now - timedelta(days=days), now)}
    results = []
    try:
        conn = await asyncpg.connect(dsn)
        async with aiohttp.ClientSession() as session:
            for label, (since, until) in windows.items():
                q = f"since={_iso(since)}&until={_iso(until)}"
                queries = {f"pipelines, {label}": ["/api/v1/stats/pipelines?" + q],
                           f"pipelines, {label}, one namespace": [f"/api/v1/stats/pipelines?{q}&namespace=team-{k}"
                                                                  for k in range(8)],
                           f"templates of one pipeline, {label}": [f"/api/v1/stats/pipelines/pipeline-{k}/templates?{q}"
                                                                   for k in range(20)]}  # fmt: skip
                for name, paths in queries.items():
                    for code, (_, base) in started.items():
                        results.append(await measure_http(session, None, f"{code}: {name}" if code else name, "stats",
                                                          [base + path for path in paths], requests, seconds=60))  # fmt: skip
                if scans:
                    results.append(await measure_direct(
                        f"baseline: scan of the runs, {label}", "scan",
                        [lambda s=since, u=until: scan(conn, since=s, until=u)], scans, warmup=0))  # fmt: skip
                answer = await compare(session, conn, started[""][1], since, until)
                print(f"{label}: endpoint vs scan: {answer or 'agree'}", flush=True)
        await conn.close()
    finally:
        for proc, _ in started.values():
            stop_api(proc)
    return results


async def main_async(args: argparse.Namespace) -> None:
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="runledger-bench-stats-"))
    admin_dsn = await asyncio.to_thread(query_load.start_embedded, root / "pgdata", keep=bool(args.keep))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    dsn = embedded.with_database(admin_dsn, "bench_stats")
    if await _dataset_kept(admin_dsn):
        print(f"reusing the dataset in {root / 'pgdata'}", flush=True)
    else:
        # The million runs take ~4 GB; WAL kept to 1 GB rather than 4, so the build fits a small disk.
        await query_load.set_durability(admin_dsn, {**query_load.LOAD_ONLY, "max_wal_size": "1GB"})
        await _drop(admin_dsn, "bench_stats_base")
        # With a baseline, built in its schema: the copy it reads is taken before this checkout's migrations.
        dsn = await _fresh_database(admin_dsn, "bench_stats", source=Path(args.baseline) if args.baseline else None)
        await build(dsn, runs=args.runs, days=args.days)
        await query_load.set_durability(admin_dsn, query_load.DURABLE)
    base_dsn = await _baseline_copy(admin_dsn) if args.baseline else None
    conn = await db.connect(dsn)
    try:
        for m in await migrations.migrate(conn):
            print(f"applied migration {m.version:04d} {m.name} to the dataset", flush=True)
    finally:
        await conn.close()
    await explain(dsn, days=args.days)
    apis = {"": (dsn, None)}
    if base_dsn is not None:
        apis["baseline code"] = (base_dsn, Path(args.baseline))
    results = await run(apis, dsn=dsn, requests=args.requests, days=args.days, scans=args.scans)
    print(f"\n{'query':<66} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}  load")
    for r in results:
        verdict = "" if r.kind != "stats" else ("  ok" if r.pct(99) < TARGET_MS else f"  over {TARGET_MS:.0f} ms")
        print(f"{r.name:<66} {len(r.samples):>5} {r.pct(50):>9.2f} {r.pct(99):>9.2f}  {r.load:.2f}{verdict}")


async def _dataset_kept(admin_dsn: str) -> bool:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = 'bench_stats'"):
            return False
    finally:
        await conn.close()
    conn = await asyncpg.connect(embedded.with_database(admin_dsn, "bench_stats"))
    try:
        return bool(await conn.fetchval("SELECT to_regclass('stats_rollup') IS NOT NULL"))
    finally:
        await conn.close()


async def _fresh_database(admin_dsn: str, name: str, *, source: Path | None) -> str:
    """A database migrated by this checkout, or by the checkout `source`."""
    if source is None:
        return await fresh_database(admin_dsn, name)
    code = f"import asyncio; from bench.ingest import fresh_database; asyncio.run(fresh_database({admin_dsn!r}, {name!r}))"
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], cwd=source, check=True,
                            env={**os.environ, "PYTHONPATH": str(source)})  # fmt: skip
    return embedded.with_database(admin_dsn, name)


async def _baseline_copy(admin_dsn: str) -> str:
    """bench_stats_base: the dataset as it stood before this checkout's migrations first reached it."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = 'bench_stats_base'"):
            await conn.execute('CREATE DATABASE bench_stats_base TEMPLATE bench_stats STRATEGY FILE_COPY')
    finally:
        await conn.close()
    return embedded.with_database(admin_dsn, "bench_stats_base")


async def _drop(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="the runs are created over the last DAYS days")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint query")
    parser.add_argument("--keep", metavar="DIR", help="keep the Postgres data directory in DIR and reuse its dataset")
    parser.add_argument("--baseline", metavar="TREE",
                        help="also time the requests against the API of the checkout TREE, on a copy of the dataset")
    parser.add_argument("--scans", type=int, default=3,
                        help="timed scans per window (at a million runs, a 30-day scan takes about a minute)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
