"""Write side of what KFP's database adds to a run (display name, experiment, pipeline, storage state)."""

from __future__ import annotations

from dataclasses import astuple, dataclass

import asyncpg

from runledger.store.sql_blocks import q


@dataclass(frozen=True)
class KfpRunDetails:
    run_id: str
    kfp_run_id: str
    display_name: str | None
    experiment_id: str | None
    experiment_name: str | None
    pipeline_id: str | None
    pipeline_name: str | None
    storage_state: str | None
    has_manifest: bool


async def write_kfp_run_details(conn: asyncpg.Connection, details: list[KfpRunDetails]) -> None:
    """Upsert `details` (one per run) for the runs that are stored; unchanged rows are not rewritten."""
    if not details:
        return
    unique = list({d.run_id: d for d in details}.values())
    columns = [list(column) for column in zip(*(astuple(d) for d in unique), strict=True)]
    await conn.execute(q("upsert_kfp_run_details"), *columns)
