"""Ingest benchmark: the coalescing, diffing, group-committing path against a naive writer.

    make bench            # or: .venv/bin/python -m bench.ingest [--runs 1000] [--fanout 5000]

Both contenders get the same synthetic event streams (bench.workflow_events, shaped like real
Argo/KFP objects) and a fresh database on the same Postgres, in the same process:

* runledger: Ingestor (translate -> per-run coalescing queue -> diffing writer, many runs per commit);
* naive:     every event applied on its own, every row of the workflow rewritten, one commit per
             event (what a persistence agent that upserts whole workflows does).

Reported: wall time, events/s, rows written, and for the fan-out run the ratio of rows written to
node state changes (target: within 2x). Postgres is the embedded server unless RUNLEDGER_DATABASE_URL
names another one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.workflow_events import count_node_changes, fanout_events, generate_events
from runledger.agent.translate import translate_workflow
from runledger.core.run_state import WatchEvent
from runledger.core.settings import DatabaseSettings, Settings
from runledger.service import build_ingestor
from runledger.store import connection as db
from runledger.store import embedded, migrations
from runledger.store.writer import RunWriter


class NaiveWriter(RunWriter):
    """Forgets what it wrote: every state rewrites all of its rows."""

    async def _load_missing(self, conn: asyncpg.Connection, ids: list[str]) -> None:
        return None

    async def write(self, conn, states, *, seen=None):
        self.forget([s.run.id for s in states])
        return await super().write(conn, states, seen=seen)


@dataclass
class Outcome:
    seconds: float
    events: int
    rows: int
    transactions: int
    transitions: int

    @property
    def state_rows(self) -> int:
        """Rows of current state (runs, steps, edges, parameters, artifacts), transitions excluded."""
        return self.rows - self.transitions

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")


async def fresh_database(server_dsn: str, name: str) -> str:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = embedded.with_database(server_dsn, name)
    conn = await db.connect(dsn)
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    return dsn


async def run_runledger(dsn: str, events: list[dict], settings: Settings, *, mode: str) -> Outcome:
    """mode: "burst" (the whole stream at once, like a relist), "stream" (events yield to the loop
    between them, like a watch socket), "each" (every event persisted before the next: no coalescing)."""
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        parsed = [WatchEvent.model_validate(e) for e in events]
        async with build_ingestor(pool=pool, settings=settings) as ingestor:
            started = time.perf_counter()
            for event in parsed:
                await ingestor.submit(event)
                if mode == "stream":
                    await asyncio.sleep(0)
                elif mode == "each":
                    await ingestor.drain()
            await ingestor.drain()
            seconds = time.perf_counter() - started
        assert not ingestor.stats.errors, ingestor.stats.errors
        stats = ingestor.stats
        return Outcome(seconds, len(events), stats.rows_written, stats.batches, stats.transitions)
    finally:
        await pool.close()


async def run_naive(dsn: str, events: list[dict], settings: Settings) -> Outcome:
    writer = NaiveWriter()
    conn = await db.connect(dsn)
    rows = transitions = 0
    try:
        parsed = [WatchEvent.model_validate(e) for e in events]
        started = time.perf_counter()
        for event in parsed:
            state = translate_workflow(event.object, deleted=event.type == "DELETED")
            result = await writer.write(conn, [state])
            rows += result.rows
            transitions += result.transitions
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return Outcome(seconds, len(events), rows, len(events), transitions)


async def stored_rows(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM steps"), await conn.fetchval("SELECT count(*) FROM transitions")
    finally:
        await conn.close()


def table(title: str, rows: list[tuple[str, Outcome]], extra: list[str]) -> None:
    print(f"\n## {title}")
    print(f"{'':<22}{'seconds':>9}{'events/s':>10}{'state rows':>12}{'transitions':>13}{'commits':>9}")
    for name, o in rows:
        print(
            f"{name:<22}{o.seconds:>9.2f}{o.events_per_second:>10.0f}{o.state_rows:>12}"
            f"{o.transitions:>13}{o.transactions:>9}"
        )
    naive = rows[-1][1]
    for name, o in rows[:-1]:
        print(
            f"naive / {name}: time x{naive.seconds / o.seconds:.1f}, "
            f"rows x{naive.rows / max(o.rows, 1):.1f}"
        )
    for line in extra:
        print(line)


async def main_async(args: argparse.Namespace) -> None:
    settings = Settings(database=DatabaseSettings(pool_max=8, statement_timeout_ms=0))
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    if not server_dsn:
        pgdata = Path(tempfile.mkdtemp(prefix="runledger-bench-")) / "postgres"
        server_dsn = await embedded.start_embedded(pgdata, database="postgres")
        print(f"embedded Postgres in {pgdata}")

    events = list(generate_events(runs=args.runs, nodes_per_run=args.nodes, seed=1))
    results = []
    for mode in ("burst", "stream"):
        dsn = await fresh_database(server_dsn, f"bench_{mode}")
        results.append((f"runledger ({mode})", await run_runledger(dsn, events, settings, mode=mode)))
    results.append(("naive", await run_naive(await fresh_database(server_dsn, "bench_naive"), events, settings)))
    table(f"{args.runs} runs x ~{args.nodes} nodes, {len(events)} events, interleaved", results, [])

    fan = list(fanout_events(nodes=args.fanout, seed=1))
    changes = count_node_changes(fan)
    ours_dsn = await fresh_database(server_dsn, "bench_fan_each")
    ours = await run_runledger(ours_dsn, fan, settings, mode="each")
    naive = await run_naive(await fresh_database(server_dsn, "bench_fan_naive"), fan, settings)
    steps, transitions = await stored_rows(ours_dsn)
    table(
        f"one {args.fanout}-node fan-out run, {len(fan)} events, every event persisted (no coalescing)",
        [("runledger (each)", ours), ("naive", naive)],
        [
            f"node state changes in the stream: {changes}; stored steps {steps}, transitions {transitions}",
            f"runledger state rows / node state changes = {ours.state_rows / changes:.2f} (target <= 2.00); "
            f"with transitions {ours.rows / changes:.2f}",
            f"naive state rows / node state changes = {naive.state_rows / changes:.2f}",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--fanout", type=int, default=5000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
