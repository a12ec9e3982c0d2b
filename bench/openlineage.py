"""OpenLineage export benchmark: what export costs ingest, and how fast the sender drains the outbox.

    .venv/bin/python -m bench.openlineage [--runs 300] [--nodes 10] [--rounds 3]

The same synthetic event stream (bench.workflow_events) is ingested into fresh databases with export off
and on, alternating, `--rounds` times each (the machine is shared: alternating spreads its load over
both); the extra cost per ingested event is the difference of the medians. Then the sender drains the
outbox of the last export-on database to a local HTTP receiver (aiohttp, in this process, answering 201),
one POST per event: events/s sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp import web

from bench.ingest import fresh_database, run_runledger
from bench.workflow_events import generate_events
from runledger.core.settings import DatabaseSettings, Settings
from runledger.openlineage.sender import LineageSender
from runledger.openlineage.transports import HttpTransport
from runledger.store import connection as db
from runledger.store import embedded


async def receiver() -> tuple[web.AppRunner, str, list[int]]:
    received = [0]

    async def lineage(request: web.Request) -> web.Response:
        await request.read()
        received[0] += 1
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/v1/lineage", lineage)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    return runner, f"http://127.0.0.1:{port}/api/v1/lineage", received


async def main_async(args: argparse.Namespace) -> None:
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    if not server_dsn:
        pgdata = Path(tempfile.mkdtemp(prefix="runledger-bench-")) / "postgres"
        server_dsn = await embedded.start_embedded(pgdata, database="postgres")
    events = list(generate_events(runs=args.runs, nodes_per_run=args.nodes, seed=1))
    off = Settings(database=DatabaseSettings(pool_max=8, statement_timeout_ms=0))
    on = off.updated(openlineage={"url": "http://127.0.0.1:9/unused"})
    times: dict[str, list[float]] = {"off": [], "on": []}
    dsn = ""
    for i in range(args.rounds):
        for name, settings in (("off", off), ("on", on)):
            dsn = await fresh_database(server_dsn, f"bench_ol_{name}_{i}")
            outcome = await run_runledger(dsn, events, settings, mode="stream")
            times[name].append(outcome.seconds / len(events))
    off_us, on_us = (statistics.median(times[k]) * 1e6 for k in ("off", "on"))
    print(f"\n## ingest, {args.runs} runs x ~{args.nodes} nodes, {len(events)} events, median of {args.rounds}")
    print(f"export off: {off_us:.0f} µs/event   export on: {on_us:.0f} µs/event   "
          f"extra: {on_us - off_us:+.0f} µs/event (x{on_us / off_us:.2f})")  # fmt: skip

    runner, url, received = await receiver()
    pool = await db.create_pool(dsn, database=on.database)
    try:
        queued = await pool.fetchval("SELECT count(*) FROM openlineage_outbox")
        sender = LineageSender(pool=pool, transport=HttpTransport(url=url, api_key=None, timeout=10))
        started = time.perf_counter()
        async with sender:
            while received[0] < queued:
                await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        await pool.close()
        await runner.cleanup()
    print(f"\n## sender: {queued} events to a local receiver in {seconds:.2f}s: {queued / seconds:.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
