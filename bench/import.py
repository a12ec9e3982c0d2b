"""Import benchmark: `runledger import argo-archive` into an empty store, against replaying the same workflows.

    .venv/bin/python -m bench.import [--runs 5000] [--nodes 10]

The workflows are the final states of synthetic runs (bench.workflow_events, shaped like real
Argo/KFP objects). They are archived into Argo's archive table on the same Postgres (the schema built
by replaying Argo's own migration, tests/support/argo_database.py) and written to a JSONL file of
ADDED events. Each contender gets a fresh, empty database and goes through the command's own entry
point, in this process:

* replay: `runledger replay FILE` (the baseline: the same ingest path, fed from a file);
* import: `runledger import argo-archive --dsn ARGO` (keyset pages from Argo's archive).

Reported: wall time and workflows/s of each (target for the import: >= 2,000 workflows/s), and the CPU
per workflow of the agent (this process) and of the Postgres server (its processes, exited backends
included; the import's reads of the archive too): on a loaded machine, wall time is mostly waiting for a
core and CPU time is the figure to compare. Postgres is the embedded server unless
RUNLEDGER_DATABASE_URL names another one (its CPU is then counted only if it runs on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import asyncpg

from bench.watch import cpu_seconds, descendants
from bench.workflow_events import generate_events
from runledger import service
from runledger.core.collector import settle_for_ingest
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


async def postmaster_pid(server_dsn: str) -> int | None:
    """The server's postmaster, whose reaped children hold the CPU of exited backends (None: not local)."""
    conn = await asyncpg.connect(server_dsn)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        try:  # read while the backend lives
            return int(Path(f"/proc/{backend}/stat").read_text().rpartition(")")[2].split()[1])
        except OSError:
            return None
    finally:
        await conn.close()


def postgres_cpu(postmaster: int | None) -> float:
    if postmaster is None:
        return float("nan")
    return cpu_seconds(postmaster, children=True) + sum(cpu_seconds(p) for p in descendants(postmaster))


class Timed(NamedTuple):
    seconds: float
    agent_cpu: float
    postgres_cpu: float


async def timed(name: str, work, *, postmaster: int | None) -> Timed:
    lines: list[str] = []
    pg = postgres_cpu(postmaster)
    cpu = time.process_time()
    started = time.perf_counter()
    code = await work(lines.append)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    pg = postgres_cpu(postmaster) - pg
    if code != 0:
        raise SystemExit(f"{name} failed ({code}): {' / '.join(lines)}")
    print(f"  {name}: {lines[-1]}")
    return Timed(seconds, cpu, pg)


async def main_async(args: argparse.Namespace) -> None:
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    tmp = Path(tempfile.mkdtemp(prefix="runledger-bench-import-"))
    if not server_dsn:
        server_dsn = await embedded.start_embedded(tmp / "postgres", database="postgres")
        print(f"embedded Postgres in {tmp / 'postgres'}")
    workflows = final_states(args.runs, args.nodes)
    n = len(workflows)
    steps = sum(len(wf["status"].get("nodes") or {}) for wf in workflows)
    print(f"{n} workflows, {steps} nodes")
    argo = await argo_archive(server_dsn, workflows)
    recording = write_events(tmp / "workflows.jsonl", [{"type": "ADDED", "object": wf} for wf in workflows])
    # A real import holds none of them: held here, every full collection of the agent's would scan
    # their millions of objects, which was most of the CPU this benchmark charged to the agent.
    del workflows
    settle_for_ingest()  # as `runledger import` and `replay` do once started

    def settings_for(dsn: str) -> Settings:
        return Settings(database=DatabaseSettings(url=dsn, pool_max=8, statement_timeout_ms=0), log=LogSettings(level="WARNING"))

    postmaster = await postmaster_pid(server_dsn)
    replay_dsn = await empty_database(server_dsn, "bench_replay")
    replay = await timed(
        "replay", lambda out: service.run_replay(settings_for(replay_dsn), [recording], announce=out),
        postmaster=postmaster,
    )  # fmt: skip
    import_dsn = await empty_database(server_dsn, "bench_import")
    request = service.ImportRequest(kind="argo-archive", dsn=argo, page_size=args.page)
    imported = await timed(
        "import", lambda out: service.run_import(settings_for(import_dsn), request, announce=out),
        postmaster=postmaster,
    )  # fmt: skip
    print(f"\n{'source':<10}{'seconds':>10}{'workflows/s':>14}{'agent ms/wf':>13}{'postgres ms/wf':>16}")
    for name, t in (("replay", replay), ("import", imported)):
        target = "   (target >= 2000)" if name == "import" else ""
        print(f"{name:<10}{t.seconds:>10.2f}{n / t.seconds:>14.0f}"
              f"{t.agent_cpu / n * 1e3:>13.2f}{t.postgres_cpu / n * 1e3:>16.2f}{target}")  # fmt: skip
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--page", type=int, default=500, help="archive rows per keyset page")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
