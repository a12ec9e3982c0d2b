"""Driving backfill imports from tests, and comparing whole databases without observation times."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from runledger.backfill.importing import ImportReport, ImportRow, ImportSource, run_import
from runledger.agent.ingest import Ingestor
from runledger.agent.source_databases import SourceError
from runledger.core.settings import Settings
from runledger.service import build_ingestor
from tests.support.argo_database import as_stored
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

TABLES = (
    "runs", "steps", "step_edges", "parameters", "artifact_refs", "transitions", "artifacts", "artifact_queue",
    "kfp_run_details", "parameter_edges",
)  # fmt: skip
# When runledger saw a row, or the order it numbered rows in, not what the row says: these differ
# between two imports of the same data. An artifact's queue generation counts the batches that asked
# for it to be checked: a run consuming another's output in a later batch asks again, in the same one not.
OBSERVATION_COLUMNS = {
    "id", "artifact_id", "first_seen_at", "updated_at", "observed_at", "imported_at", "due_at", "claimed_until",
    "sort_at", "run_sort_at", "at", "generation",
}  # fmt: skip


def fixture_workflows() -> list[dict[str, Any]]:
    """Every real Workflow among the fixtures, as stored JSON, each with a uid (the archive's key)."""
    out = []
    for path in sorted([*(FIXTURES / "argo").glob("*.yaml"), *(FIXTURES / "kfp").glob("*-runtime.json")]):
        wf = as_stored(load(path))
        if not isinstance(wf.get("metadata"), dict) or not wf["metadata"].get("name"):
            continue
        meta = wf["metadata"]
        meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{meta['namespace']}/{meta['name']}")))
        # Label values are strings in Kubernetes; YAML read `true` as a boolean.
        meta["labels"] = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (meta.get("labels") or {}).items()}
        out.append(wf)
    return out


async def content(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    """Every row of every run table, without the columns that record when runledger saw it."""
    out = {}
    for table in TABLES:
        columns = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 "
                "AND is_generated = 'NEVER' "
                "ORDER BY ordinal_position",
                table,
            )
            if r["column_name"] not in OBSERVATION_COLUMNS
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        rows = await conn.fetch(f"SELECT {listed} FROM {table}")
        out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def import_source(pool: asyncpg.Pool, settings: Settings, source: ImportSource, **kwargs) -> tuple[ImportReport, Ingestor]:
    # A source that fails raises out of run_import once what it submitted is written and checkpointed.
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        report = await run_import(source, ingestor=ingestor, pool=pool, **kwargs)
    return report, ingestor


class FailsAfter:
    """A source whose connection is cut after `pages` reads, as a real outage would cut it."""

    def __init__(self, source: ImportSource, *, pages: int) -> None:
        self._source, self._left = source, pages
        self.kind, self.scope = source.kind, source.scope

    async def read(self, *, after: str | None, limit: int) -> list[ImportRow]:
        if self._left == 0:
            raise SourceError("connection cut")
        self._left -= 1
        return await self._source.read(after=after, limit=limit)

    async def persisted(self, rows: list[ImportRow], *, pool: asyncpg.Pool) -> None:
        await self._source.persisted(rows, pool=pool)
