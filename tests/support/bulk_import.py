"""Importing workflows in bulk and replaying the same ones run by run, into two fresh databases, to compare."""

from __future__ import annotations

from typing import Any

import asyncpg

from bench.workflow_events import generate_events
from runledger.backfill.argo_archive import ArgoArchive
from runledger.agent.source_databases import SourceDatabase
from runledger.core.settings import Settings
from runledger.store import connection as db
from tests.support.argo_database import new_argo_database
from tests.support.importing import content, import_source
from tests.support.ingesting import ingest
from tests.support.postgres import create_database
from tests.support.stats_scan import rebuilt_rollup_rows, rollup_rows

ARCHIVING_LABEL = "workflows.argoproj.io/workflow-archiving-status"


def synthetic_workflows(*, runs: int, nodes: int) -> list[dict[str, Any]]:
    """The final states of generated runs, shaped like real Argo/KFP objects (the import benchmark's data)."""
    last: dict[str, dict] = {}
    for event in generate_events(runs=runs, nodes_per_run=nodes, seed=11):
        last[event["object"]["metadata"]["uid"]] = event["object"]
    return list(last.values())


def as_archived(wf: dict[str, Any]) -> dict[str, Any]:
    """The workflow as Argo archives it: with its archiving label (the watch saw it before)."""
    labels = {**(wf["metadata"].get("labels") or {}), ARCHIVING_LABEL: "Persisted"}
    return {**wf, "metadata": {**wf["metadata"], "labels": labels}}


async def database_state(conn: asyncpg.Connection) -> dict[str, Any]:
    """The run tables without observation columns, the rollups, and the OpenLineage events queued."""
    state: dict[str, Any] = await content(conn)
    state["rollups"] = await rollup_rows(conn)
    queued = await conn.fetch(
        "SELECT t.run_id, t.step_id, t.from_phase, t.to_phase FROM openlineage_outbox o"
        " JOIN transitions t ON t.id = o.transition_id"
    )
    state["openlineage_outbox"] = sorted((tuple(r) for r in queued), key=repr)
    return state


async def imported_and_replayed(
    workflows: list[dict[str, Any]], *, settings: Settings, pg_server_uri: str, template: str, page_size: int,
    archive_extra: list[tuple[str, dict[str, Any]]] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """(database state after importing `workflows` from Argo's archive, after replaying them run by run).

    `archive_extra`: (cluster name, workflow) rows archived besides, replayed after the others in that order.
    """
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    await argo.archive(workflows)
    for cluster, wf in archive_extra:
        await argo.archive([wf], cluster=cluster)
    states = []
    for how in ("import", "replay"):
        pool = await db.create_pool(await create_database(pg_server_uri, template=template), database=settings.database)
        try:
            if how == "import":
                async with SourceDatabase(argo.url) as source:
                    report, ingestor = await import_source(pool, settings, ArgoArchive(source=source), page_size=page_size)
                assert not report.bad and not ingestor.stats.errors
            else:
                events = [{"type": "ADDED", "object": as_archived(wf)}
                          for wf in [*workflows, *(wf for _, wf in archive_extra)]]  # fmt: skip
                await ingest(pool, settings, events)
            async with pool.acquire() as conn:
                state = await database_state(conn)
                assert state["rollups"] == await rebuilt_rollup_rows(conn), f"the {how}'s rollups differ from a rebuild"
            states.append(state)
        finally:
            await pool.close()
    return states[0], states[1]
