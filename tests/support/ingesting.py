"""Driving the real ingest path from tests."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import orjson

from runledger import service
from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.core.settings import Settings
from runledger.service import build_ingestor


async def ingest(pool: asyncpg.Pool, settings: Settings, events: list[dict], *, pods: list[dict] = ()) -> Ingestor:
    """Submit workflow `events`, then `pods` events, through a fresh Ingestor and wait until all are persisted."""
    async with build_ingestor(pool=pool, settings=settings, track_runs=True) as ingestor:
        for event in events:
            await ingestor.submit(WatchEvent.model_validate(event))
        for event in pods:
            await ingestor.submit_pod(WatchEvent.model_validate(event))
        await ingestor.drain()
    return ingestor


# The writer's tables of a run's rows: no foreign key cascades a run's deletion to them (migration 0028).
RUN_ROW_TABLES = ("steps", "step_edges", "parameters", "artifact_refs")


async def delete_runs(conn: asyncpg.Connection) -> None:
    """Delete every run and its rows, as anything deleting runs must (transitions are history: kept)."""
    async with conn.transaction():
        for table in RUN_ROW_TABLES:
            await conn.execute(f"DELETE FROM {table}")
        await conn.execute("DELETE FROM runs")


async def orphans(conn: asyncpg.Connection) -> dict[str, int]:
    """Rows of the writer's tables whose run (or, for an artifact reference, whose artifact) is not stored."""
    counts = {
        table: await conn.fetchval(f"SELECT count(*) FROM {table} x WHERE NOT EXISTS (SELECT FROM runs r WHERE r.id = x.run_id)")
        for table in RUN_ROW_TABLES
    }
    counts["artifact_refs.artifact_id"] = await conn.fetchval(
        "SELECT count(*) FROM artifact_refs x WHERE x.artifact_id IS NOT NULL "
        "AND NOT EXISTS (SELECT FROM artifacts a WHERE a.id = x.artifact_id)"
    )
    return counts


async def dump(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order, for whole-database comparisons."""
    tables = [
        "runs", "steps", "step_edges", "parameters", "artifact_refs", "transitions", "artifacts", "artifact_queue",
        "parameter_edges",
    ]  # fmt: skip
    return {t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2, 3")] for t in tables}


async def replay_command(settings: Settings, paths: list[Path]) -> tuple[int, dict[str, str]]:
    """`runledger replay PATHS` in-process: its exit code and the counts it printed."""
    lines: list[str] = []
    code = await service.run_replay(settings, paths, announce=lines.append)
    counts = dict(item.split("=", 1) for line in lines for item in line.split() if "=" in item)
    return code, counts


def write_events(path: Path, events: list[dict]) -> Path:
    """A JSONL recording: one watch event per line."""
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path
