"""`import argo-archive` writes each page in one batch; the database it leaves is the one the per-run path
(the same workflows replayed through the coalescing queue and its writers) leaves: every run table row by
row, the phase history, the pipeline-stats rollups (and both equal a rebuild), the OpenLineage outbox."""

from __future__ import annotations

import pytest

from runledger import service
from runledger.store import connection as db
from tests.support.argo_database import new_argo_database, offloaded
from tests.support.bulk_import import as_archived, imported_and_replayed, synthetic_workflows
from tests.support.importing import content, fixture_workflows
from tests.support.ingesting import ingest
from tests.support.postgres import create_database

WORKFLOWS = fixture_workflows() + synthetic_workflows(runs=60, nodes=6)


@pytest.fixture
def exporting(settings, tmp_path):
    """Settings with OpenLineage export configured: every transition queues its event in the outbox."""
    return settings.updated(openlineage={"file": tmp_path / "lineage.jsonl"})


@pytest.mark.parametrize("page_size", [7, 1000], ids=["many-pages", "one-page"])
async def test_real_and_synthetic_workflows_imported_in_bulk_equal_their_replay_table_by_table(
    page_size, exporting, pg_server_uri, template_database
) -> None:
    imported, replayed = await imported_and_replayed(
        WORKFLOWS, settings=exporting, pg_server_uri=pg_server_uri, template=template_database, page_size=page_size
    )
    assert imported.keys() == replayed.keys()
    for table in imported:
        assert imported[table] == replayed[table], f"{table} differs"
    assert imported["transitions"] and imported["openlineage_outbox"] and imported["rollups"]["stats_rollup"]


@pytest.mark.parametrize("page_size", [7, 1000], ids=["apart", "in-one-page"])
async def test_a_run_archived_twice_keeps_both_states_phases_as_its_replay_does(
    page_size, exporting, pg_server_uri, template_database
) -> None:
    # The same workflow archived by two clusters (Argo's key is the cluster and the uid): first as it
    # ran, then finished. Keyset order reads the second cluster's row last, as the replay sends it.
    running, finished = _running_then_finished()
    imported, replayed = await imported_and_replayed(
        WORKFLOWS[:20], settings=exporting, pg_server_uri=pg_server_uri, template=template_database,
        page_size=page_size, archive_extra=[("default", running), ("zz-second", finished)],
    )  # fmt: skip
    for table in imported:
        assert imported[table] == replayed[table], f"{table} differs"
    run_id = finished["metadata"]["uid"]
    phases = [t[3] for t in imported["transitions"] if t[0] == run_id and t[1] == ""]
    assert "Running" in phases and "Succeeded" in phases


def _running_then_finished() -> tuple[dict, dict]:
    from bench.workflow_events import generate_events

    states: dict[str, list[dict]] = {}
    for event in generate_events(runs=3, nodes_per_run=4, seed=99):
        states.setdefault(event["object"]["metadata"]["uid"], []).append(event["object"])
    for seen in states.values():
        phases = [(wf.get("status") or {}).get("phase") for wf in seen]
        if "Running" in phases and phases[-1] == "Succeeded":
            return seen[phases.index("Running")], seen[-1]
    raise AssertionError("no generated run ran and succeeded")


async def test_an_archived_workflow_whose_nodes_argo_offloaded_is_imported_with_them(
    settings, dsn, pool, pg_server_uri, template_database
) -> None:
    # Among workflows written in bulk, one whose nodes are in Argo's offload table: it goes through
    # the queue, which reads them (`runledger import` looks them up in the archive's own database).
    workflows = synthetic_workflows(runs=12, nodes=4)
    stripped, nodes = offloaded(workflows[5])
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    await argo.archive([*workflows[:5], stripped, *workflows[6:]])
    await argo.offload(stripped["metadata"]["uid"], stripped["metadata"]["namespace"], nodes)
    lines: list[str] = []
    request = service.ImportRequest(kind="argo-archive", dsn=argo.url, page_size=5)
    assert await service.run_import(settings.updated(database={"url": dsn}), request, announce=lines.append) == 0
    assert "errors=0" in lines[-1]
    replayed_pool = await db.create_pool(await create_database(pg_server_uri, template=template_database),
                                         database=settings.database)  # fmt: skip
    try:
        await ingest(replayed_pool, settings, [{"type": "ADDED", "object": as_archived(wf)} for wf in workflows])
        async with replayed_pool.acquire() as conn:
            replayed = await content(conn)
    finally:
        await replayed_pool.close()
    async with pool.acquire() as conn:
        imported = await content(conn)
    assert len(imported["steps"]) == len(replayed["steps"]) > len(workflows)
    for table in ("steps", "step_edges", "parameters", "artifact_refs", "transitions"):
        assert imported[table] == replayed[table], f"{table} differs"
