"""Query benchmark: the read API over a million runs, through real HTTP, with the plans behind it.

    make bench            # or: .venv/bin/python -m bench.queries [--runs 1000000] [--steps-per-run 20]
                          #     [--requests 300] [--seconds 60] [--keep DIR] [--workers 2] [--chunk-runs 2000]

Setup: the embedded Postgres (tuned for a 2-core/24 GiB machine, see bench.query_load) unless
RUNLEDGER_DATABASE_URL names another server; a database migrated by the real migrations and
bulk-loaded with COPY with N synthetic runs shaped as the writer would persist them
(bench.query_data: ~20 steps each, parameters, metrics, artifacts, six pipelines, eight namespaces,
labels, scheduled-workflow owners, a mix of phases, lineage chains across runs). Loading a million
runs takes a while: ``--keep DIR`` keeps the server's data directory there and reuses the dataset on
the next invocation with the same --runs and --steps-per-run (a migration added since is applied).

The API is ``runledger api`` in its own process (so the client does not share the server's GIL),
on 127.0.0.1, reading the same database; the client is one aiohttp session with keep-alive issuing
one request at a time, so figures are latencies, not throughput. Each query is warmed up past the
fifth execution of its prepared statements (after which Postgres may serve it with a generic plan,
as a long-running API does), then timed over --requests requests rotating through varied targets
(different runs, experiments, deep page tokens, lineage roots), from sending the request to reading
the whole body; a query slower than --seconds in all gets fewer requests. The API plans every
request's statements with their values (plan_cache_mode = force_custom_plan, set per request; run
listings without memoized joins): a parameter listing's generic plan is printed with the plans, to show
what that avoids.

Reported per query: n, mean, p50, p99 in ms, the target, and ``db ms``: the server-side execution
time per request from pg_stat_statements (every statement the request ran, BEGIN/COMMIT included),
so the rest is HTTP, pooling, Python and JSON. Baselines are measured in the same run, on the same
database, straight through asyncpg (no HTTP on either side):

* deep page: the API's keyset query at 80 % depth against the same query with OFFSET;
* lineage: the API's recursive walk (lineage_walk) against the same walk done hop by hop from
  Python, one neighbour query per node (the same neighbour rules), as a client without the CTE would.

Finally the statements behind the slowest queries are run again under EXPLAIN (ANALYZE, BUFFERS),
captured by calling the API's own repository functions with a connection that explains each
statement it is given, so the plans are of the SQL the API runs (for parameter listings, also the
generic plan, through PREPARE and plan_cache_mode = force_generic_plan). The machine's load average is
printed next to the figures: other benchmarks may be sharing the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

from bench import query_load
from bench.query_data import PIPELINES, Shape, _h
from runledger.store import connection as db
from runledger.store import lineage_graph as lineage
from runledger.store import run_history as runs
from runledger.store import run_listing
from runledger.store.page_tokens import Cursor
from runledger.store.sql_blocks import q

DATABASE = "bench_queries"
TARGETS_MS = {"list": 20.0, "lineage": 50.0, "detail": 20.0}
# p50 over HTTP, the JSON decoded, at 2,000 and at 20,000 runs.
GOALS_MS = {
    "runs: first page": 3.0, "runs: param.lr=0.1": 3.0, "runs: param.lr=0.1 & metric.accuracy>0.9": 5.0,
    "runs: sort=-metric.accuracy": 5.0, "lineage: step, upstream, depth 10": 3.0, "lineage: step, upstream, depth 50": 5.0,
}  # fmt: skip


@dataclass
class Result:
    name: str
    kind: str  # list, lineage, detail: which target applies
    samples: list[float] = field(default_factory=list)  # ms
    db_ms: float | None = None
    load: float = 0.0  # the machine's 1-minute load average when the measurement ended
    errors: int = 0  # 503s: the API's statement timeout cut the query
    # CPU the API process spent per request (user + system): unlike latency, hardly moved by other
    # work on a loaded machine, so it compares two versions where wall times cannot.
    api_cpu_ms: float | None = None

    def merge(self, other: Result) -> None:
        n, m = len(self.samples), len(other.samples)
        for attr in ("db_ms", "api_cpu_ms"):
            a, b = getattr(self, attr), getattr(other, attr)
            if a is not None and b is not None:
                setattr(self, attr, (a * n + b * m) / (n + m))
        self.samples += other.samples
        self.errors += other.errors
        self.load = other.load

    def pct(self, p: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- the API process ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_api(dsn: str, *, source: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`runledger api` on a free port; from the checkout `source` instead of this one when given."""
    port = _free_port()
    env = {**os.environ, "RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_LOG_LEVEL": "WARNING"}
    if source is not None:
        env["PYTHONPATH"] = str(source)  # `-m` puts the working directory first too: it is `source` as well
    proc = subprocess.Popen(
        [sys.executable, "-m", "runledger", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, cwd=source,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        return proc, base
            except aiohttp.ClientError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("runledger api did not become ready")
            await asyncio.sleep(0.2)


def stop_api(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- targets --------------------------------------------------------------------------------------


@dataclass
class Targets:
    detail_ids: list[str]
    deep_tokens: list[str]
    deep_keys: list[tuple[Any, str]]
    deep_offset: int
    experiments: list[str]
    lineage_roots: list[str]
    deep_spacing: int  # rows between two deep pages' starts


def deploy_node(shape: Shape, i: int) -> str:
    deploy = len(shape.tasks) - 1
    return f"{shape.name(i)}-{_h(i, 100 + deploy) & 0xFFFFFFFF}"


async def pick_targets(conn: asyncpg.Connection, shape: Shape, rng: random.Random) -> Targets:
    total = shape.total
    old = range(len(PIPELINES) * 6, total - shape.running_tail)
    detail_ids = [shape.run_id(i) for i in rng.sample(old, 64)]
    # Deep pages: tokens for points at ~80 % of the history, as following next_page_token would give.
    count = await conn.fetchval("SELECT count(*) FROM runs")
    depth = int(count * 0.8)
    spacing = min(100, (count - depth) // 16)  # 16 points within the last fifth, however small the dataset
    keys = []
    for k in range(16):
        row = await conn.fetchrow("SELECT sort_at, id FROM runs ORDER BY sort_at DESC, id DESC OFFSET $1 LIMIT 1", depth + k * spacing)
        keys.append((row["sort_at"], row["id"]))
    query = run_listing.RunListQuery(limit=100)
    tokens = [run_listing.page_token(query, Cursor(key=key, id=run_id)) for key, run_id in keys]
    # Lineage roots: deploy steps whose champion chain has five produced models behind it, so ten
    # hops upstream cross five runs.
    deploy = len(shape.tasks) - 1
    roots = []
    while len(roots) < 32:
        i = rng.choice(old)
        chain = [i - k * len(PIPELINES) for k in range(6)]
        if all(shape.succeeded(j, deploy) for j in chain):
            roots.append(f"step:{shape.run_id(i)}/{deploy_node(shape, i)}")
    experiments = [f"exp-{rng.randrange(5000)}" for _ in range(64)]
    return Targets(detail_ids, tokens, keys, depth, experiments, roots, spacing)


# --- measuring ------------------------------------------------------------------------------------


async def _db_time(conn: asyncpg.Connection | None) -> float | None:
    if conn is None:
        return None
    return await conn.fetchval(
        "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "   AND query NOT LIKE '%pg_stat_statements%'"
    )


async def measure_http(
    session: aiohttp.ClientSession, stats: asyncpg.Connection | None, name: str, kind: str,
    urls: list[str], requests: int, *, seconds: float, warmup: int = 20, api: psutil.Process | None = None,
) -> Result:  # fmt: skip
    # Warm-up passes the fifth execution of each prepared statement: from then on Postgres may use
    # its generic plan, which is what a long-running API serves with.
    deadline = time.monotonic() + seconds / 4
    for k in range(warmup):
        async with session.get(urls[k % len(urls)]) as resp:
            body = await resp.read()
            if resp.status not in (200, 503):
                raise RuntimeError(f"{name}: {resp.status} {body[:300]!r}")
        if k >= 8 and time.monotonic() > deadline:
            break
    if stats is not None:
        await stats.execute("SELECT pg_stat_statements_reset()")
    result = Result(name, kind)
    deadline = time.monotonic() + seconds
    cpu = sum(api.cpu_times()[:2]) if api is not None else 0.0
    for k in range(requests):
        if k >= 10 and time.monotonic() > deadline:
            requests = k  # a pathological query gets fewer samples, not the whole run's time
            break
        started = time.perf_counter()
        async with session.get(urls[k % len(urls)]) as resp:
            body = await resp.read()
            result.errors += resp.status != 200
        json.loads(body)  # a client reads the answer: decoding it is part of the wait
        result.samples.append((time.perf_counter() - started) * 1000)
    if api is not None:
        result.api_cpu_ms = (sum(api.cpu_times()[:2]) - cpu) * 1000 / requests
    total = await _db_time(stats)
    if total is not None:
        result.db_ms = total / requests
    result.load = os.getloadavg()[0]
    return result


async def measure_direct(name: str, kind: str, calls: list[Callable[[], Awaitable[Any]]], requests: int, warmup: int = 3) -> Result:
    for k in range(warmup):
        await calls[k % len(calls)]()
    result = Result(name, kind)
    for k in range(requests):
        started = time.perf_counter()
        await calls[k % len(calls)]()
        result.samples.append((time.perf_counter() - started) * 1000)
    result.load = os.getloadavg()[0]
    return result


async def _explain(conn: asyncpg.Connection, sql: str, *args: Any) -> str:
    return "\n".join(r[0] for r in await conn.fetch(sql, *args))


def _execution_ms(plan: str) -> float:
    return next((float(line.split(":")[1].split()[0]) for line in plan.splitlines() if "Execution Time" in line), 0.0)


async def explain_generic(conn: asyncpg.Connection, sql: str, args: tuple) -> str:
    """The plan a prepared statement settles on after five executions when Postgres prefers its
    generic plan (made without the parameter values), run with these values."""
    literals = [repr(a) if isinstance(a, (int, float)) and not isinstance(a, bool)
                else await conn.fetchval("SELECT quote_literal($1::text)", str(a)) for a in args]  # fmt: skip
    await conn.execute(f"PREPARE bench_generic AS {sql}")
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        return await _explain(conn, f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_generic ({', '.join(literals)})")
    finally:
        await conn.execute("RESET plan_cache_mode")
        await conn.execute("DEALLOCATE bench_generic")


class RecordingConnection:
    """Stands in for an asyncpg connection: runs each statement under EXPLAIN (ANALYZE, BUFFERS)
    first (recording the plan), then for real, so a repository function reveals its SQL and plans."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plans: list[tuple[float, str, str]] = []  # (execution ms, sql, plan)
        self.statements: list[tuple[str, tuple]] = []  # (sql, arguments)

    async def _explain(self, sql: str, args: tuple) -> None:
        self.statements.append((sql, args))
        plan = await _explain(self.conn, f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
        self.plans.append((_execution_ms(plan), sql, plan))

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        await self._explain(sql, args)
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        await self._explain(sql, args)
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        await self._explain(sql, args)
        return await self.conn.fetchval(sql, *args)


def _listing(**filters: Any) -> run_listing.RunListQuery:
    return run_listing.RunListQuery(limit=100, **filters)


async def hop_by_hop(conn: asyncpg.Connection, seed: str, depth: int, limit: int) -> dict[str, int]:
    """The upstream walk as a client without the recursive CTE would do it: one neighbour query per
    node and hop, with the same neighbour rules (lineage_upstream), the visited set in Python."""
    neighbours = q("lineage_upstream")
    sql = (
        "SELECT nb.id FROM (SELECT $1::bigint AS artifact_id, $2::text AS run_id, $3::text AS step_id) p "
        f"CROSS JOIN LATERAL ({neighbours}) nb"
    )
    seen = {seed: 0}
    frontier = [seed]
    for hop in range(1, depth + 1):
        found: set[str] = set()
        for node in frontier:
            if node.startswith("artifact:"):
                args = (int(node[len("artifact:"):]), None, None)
            else:
                run_id, _, step_id = node[len("step:"):].partition("/")
                args = (None, run_id, step_id)
            found.update(r[0] for r in await conn.fetch(sql, *args))
        frontier = sorted(found - seen.keys())[: max(limit - len(seen), 0)]
        for node in frontier:
            seen[node] = hop
        if not frontier:
            break
    return seen


def request_plan(targets: Targets) -> list[tuple[str, str, list[str], list[str] | None]]:
    """(name, kind, paths under /api/v1, the baseline's paths when they differ) of every HTTP query."""
    lineage = [f"/lineage?node={r}&direction=upstream" for r in targets.lineage_roots]
    return [
        ("runs: first page", "list", ["/runs?limit=100"], None),
        ("runs: first page, namespace=team-c", "list", ["/runs?limit=100&namespace=team-c"], None),
        ("runs: page at 80% depth (keyset token)", "list", [f"/runs?limit=100&page_token={t}" for t in targets.deep_tokens], None),
        ("runs: param.lr=0.1 & metric.accuracy>0.9", "list", ["/runs?param.lr=0.1&metric.accuracy%3E0.9&limit=100"], None),
        ("runs: param.lr=0.1", "list", ["/runs?param.lr=0.1&limit=100"], None),
        ("runs: sort=-metric.accuracy", "list", ["/runs?sort=-metric.accuracy&limit=100"], None),
        ("runs: param.experiment=<one of 5000>", "list", [f"/runs?param.experiment={e}&limit=100" for e in targets.experiments], None),
        ("lineage: step, upstream, depth 10", "lineage", [f"{p}&depth=10" for p in lineage], None),
        ("lineage: step, upstream, depth 50", "lineage", [f"{p}&depth=50" for p in lineage], None),
        ("run detail", "detail", [f"/runs/{i}" for i in targets.detail_ids], None),
        ("run steps", "detail", [f"/runs/{i}/steps" for i in targets.detail_ids], None),
    ]  # fmt: skip


async def run_benchmark(dsn: str, shape: Shape, requests: int, seconds: float, *, baseline: Path | None = None) -> tuple[list[Result], list[str], list[tuple[str, float, str, str]]]:
    rng = random.Random(7)
    conn = await db.connect(dsn)
    stats: asyncpg.Connection | None = await db.connect(dsn)
    try:
        await stats.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await stats.execute("SELECT pg_stat_statements_reset()")
    except asyncpg.PostgresError as exc:
        print(f"pg_stat_statements unavailable ({exc}); no db ms column")
        await stats.close()
        stats = None
    targets = await pick_targets(conn, shape, rng)
    await conn.execute("SELECT pg_stat_reset()")  # index scans counted from here: which indexes the queries use
    notes: list[str] = []
    results: list[Result] = []
    proc, base = await start_api(dsn)
    baseline_api = await start_api(dsn, source=baseline) if baseline is not None else None
    try:
        connector = aiohttp.TCPConnector(limit=2, keepalive_timeout=60)
        async with aiohttp.ClientSession(connector=connector) as session:
            api = f"{base}/api/v1"
            ours_proc = psutil.Process(proc.pid)
            theirs_proc = psutil.Process(baseline_api[0].pid) if baseline_api is not None else None
            for name, kind, paths, baseline_paths in request_plan(targets):
                ours = theirs = None
                # Interleaved in rounds, query by query: both versions see the same load, the same caches.
                rounds = 3 if baseline_api is not None else 1
                for _ in range(rounds):
                    part = await measure_http(session, stats, name, kind, [api + p for p in paths], requests // rounds,
                                              seconds=seconds / rounds, api=ours_proc)  # fmt: skip
                    ours = part if ours is None else (ours.merge(part) or ours)
                    if baseline_api is not None:
                        urls = [f"{baseline_api[1]}/api/v1{p}" for p in baseline_paths or paths]
                        part = await measure_http(session, stats, f"{name} [baseline]", kind, urls, requests // rounds,
                                                  seconds=seconds / rounds, api=theirs_proc)  # fmt: skip
                        theirs = part if theirs is None else (theirs.merge(part) or theirs)
                if theirs is not None:
                    results.append(theirs)
                results.append(ours)
                print(f"  {name}: p50 {ours.pct(50):.2f} ms, p99 {ours.pct(99):.2f} ms, API CPU {ours.api_cpu_ms:.2f} ms"
                      + (f"; baseline p50 {theirs.pct(50):.2f} ms, API CPU {theirs.api_cpu_ms:.2f} ms" if theirs else ""),
                      flush=True)  # fmt: skip
            async with session.get(f"{api}/lineage?node={targets.lineage_roots[0]}&direction=upstream&depth=10") as resp:
                graph = await resp.json()
            depths = [n["depth"] for n in graph["nodes"]]
            run_count = len({n["run_id"] for n in graph["nodes"] if n["kind"] == "step"})
            notes.append(f"lineage sample: {len(graph['nodes'])} nodes, {len(graph['edges'])} edges, deepest node "
                         f"{max(depths)} hops, steps of {run_count} runs, truncated={graph['truncated']}")  # fmt: skip

        # Baselines, straight through asyncpg on both sides.
        keyset = _listing(page_token=targets.deep_tokens[0])
        recorder = RecordingConnection(conn)
        await run_listing.list_runs(recorder, keyset)  # type: ignore[arg-type]
        keyset_sql = recorder.plans[-1][1]
        # The page's own WHERE is the last one at a line's start (the columns hold subqueries of their own).
        offset_sql = keyset_sql.rsplit("\nWHERE ", 1)[0] + " ORDER BY r.sort_at DESC, r.id DESC LIMIT 101 OFFSET $1"

        def keyset_call(k: int) -> Callable[[], Awaitable[Any]]:
            key, run_id = targets.deep_keys[k]
            return lambda: conn.fetch(keyset_sql, key, run_id, 101)

        def offset_call(k: int) -> Callable[[], Awaitable[Any]]:
            return lambda: conn.fetch(offset_sql, targets.deep_offset + k * targets.deep_spacing + 1)

        calls = max(10, requests // 10)
        results.append(await measure_direct("sql: keyset page at 80% depth", "list", [keyset_call(k) for k in range(16)], requests))
        results.append(await measure_direct("sql: OFFSET page at 80% depth (baseline)", "list",
                                            [offset_call(k) for k in range(16)], calls))  # fmt: skip
        walk = lineage.walk_sql("upstream")
        results.append(await measure_direct(
            "sql: lineage walk, recursive CTE", "lineage",
            [(lambda r=r: conn.fetch(walk, [r], 10, 500, None)) for r in targets.lineage_roots], requests,
        ))  # fmt: skip
        results.append(await measure_direct(
            "sql: lineage walk, hop by hop (baseline)", "lineage",
            [(lambda r=r: hop_by_hop(conn, r, 10, 500)) for r in targets.lineage_roots], calls,
        ))  # fmt: skip
        cte = {n for row in await conn.fetch(walk, [targets.lineage_roots[0]], 10, 500, None) for n in row["ids"]}
        hops = set(await hop_by_hop(conn, targets.lineage_roots[0], 10, 500))
        notes.append(f"hop-by-hop walk found the same nodes as the CTE: {cte == hops} ({len(cte)} nodes)")

        # Plans of the statements behind every API query, from the repository functions themselves.
        explained: list[tuple[str, float, str, str]] = []
        captures: list[tuple[str, Callable[[RecordingConnection], Awaitable[Any]]]] = [
            ("runs: first page", lambda c: run_listing.list_runs(c, _listing())),
            ("runs: first page, namespace=team-c", lambda c: run_listing.list_runs(c, _listing(namespace=("team-c",)))),
            ("runs: page at 80% depth", lambda c: run_listing.list_runs(c, keyset)),
            ("runs: param.lr=0.1 & metric.accuracy>=0.9", lambda c: run_listing.list_runs(c, _listing(
                params=(run_listing.ParamFilter(name="lr", value="0.1"),),
                metrics=(run_listing.MetricFilter(name="accuracy", op=">=", value=0.9),)))),
            ("runs: param.lr=0.1", lambda c: run_listing.list_runs(c, _listing(
                params=(run_listing.ParamFilter(name="lr", value="0.1"),)))),
            ("runs: sort=-metric.accuracy", lambda c: run_listing.list_runs(c, _listing(sort="-metric.accuracy"))),
            ("runs: param.experiment", lambda c: run_listing.list_runs(c, _listing(
                params=(run_listing.ParamFilter(name="experiment", value=targets.experiments[0]),)))),
            ("lineage: upstream, depth 10", lambda c: lineage.get_lineage(c, lineage.LineageQuery(
                node=targets.lineage_roots[0], direction="upstream", depth=10))),
            ("run detail", lambda c: _detail(c, targets.detail_ids[0])),
            ("run steps", lambda c: runs.list_steps(c, targets.detail_ids[0])),
        ]  # fmt: skip
        for name, call in captures:
            # As the API reads: run listings without memoized joins (begin_snapshot).
            await conn.execute(f"SET enable_memoize = {'off' if name.startswith('runs:') else 'on'}")
            recorder = RecordingConnection(conn)
            await call(recorder)
            for ms, sql, text in recorder.plans:
                explained.append((name, ms, sql, text))
            if "param." in name:
                sql, args = recorder.statements[-1]
                plan = await explain_generic(conn, sql, args)
                explained.append((f"{name} [generic plan]", _execution_ms(plan), sql, plan))
        notes += await storage_notes(conn, shape.total)
    finally:
        stop_api(proc)
        if baseline_api is not None:
            stop_api(baseline_api[0])
        await conn.close()
        if stats is not None:
            await stats.close()
    return results, notes, explained


async def storage_notes(conn: asyncpg.Connection, runs: int) -> list[str]:
    """Bytes per run of each table (heap and TOAST) and of each of its indexes, and the indexes no
    statement of this benchmark scanned (pg_stat_user_indexes, counted since the queries began)."""
    rows = await conn.fetch(
        """
        SELECT c.relname AS tbl, pg_table_size(c.oid) AS heap, i.indexrelid::regclass::text AS index,
               pg_relation_size(i.indexrelid) AS index_bytes, s.idx_scan
        FROM pg_class c
        LEFT JOIN pg_index i ON i.indrelid = c.oid
        LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
        WHERE c.relname = ANY ($1::text[]) AND c.relkind = 'r'
        ORDER BY pg_total_relation_size(c.oid) DESC, index_bytes DESC
        """,
        list(query_load.TABLES),
    )
    notes = [f"\n## storage at {runs:,} runs: bytes per run (pg_table_size: heap + TOAST; indexes apart)"]
    total = 0
    for tbl in dict.fromkeys(r["tbl"] for r in rows):
        mine = [r for r in rows if r["tbl"] == tbl]
        heap, indexes = mine[0]["heap"], sum(r["index_bytes"] or 0 for r in mine)
        total += heap + indexes
        notes.append(f"{tbl:<18} table {heap / runs:9.0f}  indexes {indexes / runs:9.0f}")
        for r in mine:
            if r["index"] is not None:
                unused = "  (not scanned by these queries)" if not r["idx_scan"] else ""
                notes.append(f"    {r['index']:<44} {r['index_bytes'] / runs:9.0f}{unused}")
    notes.append(f"{'all':<18} {total / runs:9.0f} bytes per run, {total / 2**20:.0f} MiB")
    return notes


async def _detail(conn: Any, run_id: str) -> None:
    run = await runs.get_run(conn, run_id)
    assert run is not None
    await runs.list_metrics(conn, run_id)


# --- report ---------------------------------------------------------------------------------------


def print_report(results: list[Result], notes: list[str], explained: list[tuple[str, float, str, str]], *, plans: int) -> None:
    by_name = {r.name: r for r in results}
    print(f"\n## latency, ms (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print(f"{'query':<62}{'n':>5}{'mean':>8}{'p50':>8}{'p99':>8}{'db ms':>8}{'api cpu':>8}{'target':>8}{'p99/target':>11}"
          f"{'load':>6}{'503s':>6}")  # fmt: skip
    for r in results:
        target = TARGETS_MS[r.kind]
        db_ms = f"{r.db_ms:8.2f}" if r.db_ms is not None else f"{'':>8}"
        db_ms += f"{r.api_cpu_ms:8.2f}" if r.api_cpu_ms is not None else f"{'':>8}"
        ratio = f"{r.pct(99) / target:11.2f}" if not r.name.startswith("sql:") else f"{'':>11}"
        print(f"{r.name:<62}{len(r.samples):>5}{statistics.fmean(r.samples):8.2f}{r.pct(50):8.2f}{r.pct(99):8.2f}"
              f"{db_ms}{target if not r.name.startswith('sql:') else '':>8}{ratio}{r.load:6.1f}{r.errors:6}")  # fmt: skip
    print("\n## against the baselines (same database, same run; asyncpg, no HTTP)")
    for ours, base in (
        ("sql: keyset page at 80% depth", "sql: OFFSET page at 80% depth (baseline)"),
        ("sql: lineage walk, recursive CTE", "sql: lineage walk, hop by hop (baseline)"),
    ):
        a, b = by_name[ours], by_name[base]
        print(f"{base[5:]:<44} p50 {b.pct(50):9.2f} ms  vs  {ours[5:]:<32} p50 {a.pct(50):7.2f} ms:"
              f"  x{b.pct(50) / a.pct(50):.1f}")  # fmt: skip
    for note in notes:
        print(note)
    if any(name.endswith(" [baseline]") for name in by_name):
        print("\n## against the baseline checkout (same database, interleaved query by query), ms")
        print(f"{'query':<46}{'base p50':>10}{'p50':>8}{'x':>6}{'base p99':>10}{'p99':>8}{'base cpu':>10}{'cpu':>7}{'x':>6}"
              f"{'goal':>6}  met")  # fmt: skip
        for r in results:
            if (b := by_name.get(f"{r.name} [baseline]")) is not None:
                goal = GOALS_MS.get(r.name)
                met = "" if goal is None else ("yes" if r.pct(50) <= goal else "NO")
                print(f"{r.name:<46}{b.pct(50):10.2f}{r.pct(50):8.2f}{b.pct(50) / r.pct(50):6.1f}{b.pct(99):10.2f}"
                      f"{r.pct(99):8.2f}{b.api_cpu_ms:10.2f}{r.api_cpu_ms:7.2f}{b.api_cpu_ms / r.api_cpu_ms:6.1f}"
                      f"{goal or '':>6}  {met}")  # fmt: skip
    print(f"\n## EXPLAIN (ANALYZE, BUFFERS) of the {plans} slowest statements the API ran")
    for name, ms, sql, text in sorted(explained, key=lambda e: -e[1])[:plans]:
        print(f"\n### {name}: {ms:.2f} ms\n{' '.join(sql.split())[:600]}\n{text}")
    print("\n## every statement, execution ms")
    for name, ms, sql, _ in explained:
        print(f"{ms:9.3f}  {name:<44} {' '.join(sql.split())[:90]}")


async def main_async(args: argparse.Namespace) -> None:
    shape = Shape(total=args.runs, steps_per_run=args.steps_per_run)
    admin_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    embedded_server = admin_dsn is None
    if embedded_server:
        root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="runledger-bench-queries-"))
        admin_dsn = await asyncio.to_thread(query_load.start_embedded, root / "pgdata", keep=bool(args.keep))
        print(f"embedded Postgres in {root / 'pgdata'}" + ("" if args.keep else " (deleted at exit: no --keep)"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if embedded_server:
        await query_load.set_durability(admin_dsn, query_load.LOAD_ONLY)
    try:
        dsn, load = await query_load.ensure_dataset(
            admin_dsn, DATABASE, shape, workers=args.workers, chunk_runs=args.chunk_runs
        )
    finally:
        if embedded_server:
            await query_load.set_durability(admin_dsn, query_load.DURABLE)
    verb = "reused (loaded earlier in" if load.reused else "loaded in"
    print(f"dataset: {shape.total:,} runs x {shape.steps_per_run} steps, {load.rows:,} rows; {verb} "
          f"{load.seconds:.0f} s: COPY {load.copy_seconds:.0f} s ({load.rows / load.copy_seconds:,.0f} rows/s), "
          f"keys+indexes {load.index_seconds:.0f} s, vacuum+analyze {load.vacuum_seconds:.0f} s"
          + (")" if load.reused else ""), flush=True)  # fmt: skip
    conn = await asyncpg.connect(dsn)
    try:
        sizes = await conn.fetch(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) AS size FROM pg_class"
            " WHERE relname = ANY($1::text[]) ORDER BY pg_total_relation_size(oid) DESC", list(query_load.TABLES))
        print("sizes: " + ", ".join(f"{r['relname']} {r['size']}" for r in sizes))
        print("server: " + ", ".join([f"{k}={await conn.fetchval(f'SHOW {k}')}" for k in
                                      ("server_version", "shared_buffers", "work_mem", "jit", "fsync")]))  # fmt: skip
    finally:
        await conn.close()
    baseline = Path(args.baseline).resolve() if args.baseline else None
    results, notes, explained = await run_benchmark(dsn, shape, args.requests, args.seconds, baseline=baseline)
    print_report(results, notes, explained, plans=args.plans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--steps-per-run", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per query")
    parser.add_argument("--seconds", type=float, default=60, help="time budget per query: fewer requests past it")
    parser.add_argument("--keep", metavar="DIR", help="keep the Postgres data directory in DIR and reuse its dataset")
    parser.add_argument("--workers", type=int, default=query_load.default_workers(), help="row-generating processes")
    parser.add_argument("--chunk-runs", type=int, default=2000, help="runs per COPY transaction")
    parser.add_argument("--plans", type=int, default=4, help="EXPLAIN plans printed, slowest first")
    parser.add_argument("--baseline", metavar="CHECKOUT", help="also time the API of this source tree (another "
                        "version, e.g. a worktree of main), query by query interleaved with this one's")  # fmt: skip
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
