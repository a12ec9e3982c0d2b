"""Import benchmark: `runledger import argo-archive` into an empty store, against replaying the same workflows.

    .venv/bin/python -m bench.import [--runs 5000] [--nodes 10]

The workflows are the final states of synthetic runs (bench.workflow_events, shaped like real
Argo/KFP objects). They are archived into Argo's archive table on the same Postgres (the schema built
by replaying Argo's own migration, tests/support/argo_database.py) and written to a JSONL file of
ADDED events. Each contender gets a fresh, empty database and goes through the command's own entry
point, in this process:

* replay: `runledger replay FILE` (the baseline: the same ingest path, fed from a file);
* import: `runledger import argo-archive --dsn ARGO` (keyset pages from Argo's archive).

Reported: wall time and workflows/s of each (target for the import: >= 2,000 workflows/s). Postgres
is the embedded server unless RUNLEDGER_DATABASE_URL names another one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.workflow_events import generate_events
from runledger import service
from runledger.core.settings import DatabaseSettings, LogSettings, Settings
from runledger.store import embedded
from tests.support.argo_database import archive_row, migration
from tests.support.ingesting import write_events


def final_states(runs: int, nodes: int) -> list[dict]:
    last: dict[str, dict] = {}
    for event in generate_events(runs=runs, nodes_per_run=nodes, seed=7):
        last[event["object"]["metadata"]["uid"]] = event["object"]
    return list(last.values())


async def empty_database(server_dsn: str, name: str) -> str:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return embedded.with_database(server_dsn, name)


async def argo_archive(server_dsn: str, workflows: list[dict]) -> str:
    url = await empty_database(server_dsn, "bench_argo")
    conn = await asyncpg.connect(url)
    try:
        for statement in migration("postgres"):
            await conn.execute(statement)
        rows, labels = [], []
        for wf in workflows:
            row, wf_labels = archive_row(wf, dialect="postgres")
            rows.append(row)
            labels.extend(wf_labels)
        await conn.copy_records_to_table(
            "argo_archived_workflows", records=rows,
            columns=["clustername", "instanceid", "uid", "name", "namespace", "phase", "startedat", "finishedat",
                     "creationtimestamp", "workflow"],
        )  # fmt: skip
        await conn.copy_records_to_table("argo_archived_workflows_labels", records=labels)
    finally:
        await conn.close()
    return url


async def timed(name: str, work) -> float:
    lines: list[str] = []
    started = time.perf_counter()
    code = await work(lines.append)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{name} failed ({code}): {' / '.join(lines)}")
    print(f"  {name}: {lines[-1]}")
    return seconds


async def main_async(args: argparse.Namespace) -> None:
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    tmp = Path(tempfile.mkdtemp(prefix="runledger-bench-import-"))
    if not server_dsn:
        server_dsn = await embedded.start_embedded(tmp / "postgres", database="postgres")
        print(f"embedded Postgres in {tmp / 'postgres'}")
    workflows = final_states(args.runs, args.nodes)
    steps = sum(len(wf["status"].get("nodes") or {}) for wf in workflows)
    print(f"{len(workflows)} workflows, {steps} nodes")
    argo = await argo_archive(server_dsn, workflows)
    recording = write_events(tmp / "workflows.jsonl", [{"type": "ADDED", "object": wf} for wf in workflows])

    def settings_for(dsn: str) -> Settings:
        return Settings(database=DatabaseSettings(url=dsn, pool_max=8, statement_timeout_ms=0), log=LogSettings(level="WARNING"))

    replay_dsn = await empty_database(server_dsn, "bench_replay")
    replay = await timed("replay", lambda out: service.run_replay(settings_for(replay_dsn), [recording], announce=out))
    import_dsn = await empty_database(server_dsn, "bench_import")
    request = service.ImportRequest(kind="argo-archive", dsn=argo, page_size=args.page)
    imported = await timed("import", lambda out: service.run_import(settings_for(import_dsn), request, announce=out))
    n = len(workflows)
    print(f"\n{'source':<10}{'seconds':>10}{'workflows/s':>14}")
    print(f"{'replay':<10}{replay:>10.2f}{n / replay:>14.0f}")
    print(f"{'import':<10}{imported:>10.2f}{n / imported:>14.0f}   (target >= 2000)")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--page", type=int, default=500, help="archive rows per keyset page")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
