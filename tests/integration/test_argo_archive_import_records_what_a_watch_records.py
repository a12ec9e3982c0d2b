"""`import argo-archive` records every archived workflow as a watch would have; bad rows are counted.

Argo's archive is real: made by Argo's own migration, on Postgres and on MariaDB, rows written as
Argo's ArchiveWorkflow writes them.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from runledger.backfill.argo_archive import ArgoArchive
from runledger.agent.source_databases import SourceDatabase
from runledger.store import connection as db
from tests.support.argo_database import new_argo_database
from tests.support.importing import content, fixture_workflows, import_source
from tests.support.ingesting import ingest
from tests.support.postgres import create_database

WORKFLOWS = fixture_workflows()


@pytest.fixture(params=["postgres", "mysql"])
async def argo(request: pytest.FixtureRequest, pg_server_uri: str):
    if request.param == "mysql":
        argo = await new_argo_database("mysql", mariadb=request.getfixturevalue("mariadb"))
    else:
        argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    await argo.archive(WORKFLOWS)
    return argo


async def test_the_archive_imports_to_the_same_runs_steps_and_artifacts_as_watching_them(
    argo, pool, settings, pg_server_uri, template_database
) -> None:
    async with SourceDatabase(argo.url) as source:
        report, ingestor = await import_source(pool, settings, ArgoArchive(source=source), page_size=4)
    assert report.rows == report.imported == len(WORKFLOWS)
    assert not report.bad and not ingestor.stats.errors
    watched_pool = await db.create_pool(await create_database(pg_server_uri, template=template_database), database=settings.database)
    try:
        # Argo adds its archiving label to what it archives; the watch saw the workflows before.
        archived = [
            {**wf, "metadata": {**wf["metadata"], "labels": {**(wf["metadata"].get("labels") or {}),
                                                             "workflows.argoproj.io/workflow-archiving-status": "Persisted"}}}
            for wf in WORKFLOWS
        ]  # fmt: skip
        await ingest(watched_pool, settings, [{"type": "ADDED", "object": wf} for wf in archived])
        async with watched_pool.acquire() as conn:
            watched = await content(conn)
    finally:
        await watched_pool.close()
    async with pool.acquire() as conn:
        imported = await content(conn)
    assert imported == watched
    assert len(imported["runs"]) == len(WORKFLOWS) and imported["steps"] and imported["artifact_refs"]


async def test_importing_twice_writes_nothing_the_second_time(argo, pool, settings) -> None:
    async with SourceDatabase(argo.url) as source:
        await import_source(pool, settings, ArgoArchive(source=source))
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM watch_checkpoints")  # from the start again, not resumed
            before = await content(conn)
        report, ingestor = await import_source(pool, settings, ArgoArchive(source=source))
    assert report.rows == len(WORKFLOWS)
    assert ingestor.stats.runs_written == 0
    async with pool.acquire() as conn:
        assert await content(conn) == before


async def test_rows_that_are_not_workflows_are_counted_and_the_rest_imported(argo, pool, settings) -> None:
    not_a_workflow = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "uid": "u-pod"}}
    unnamed = {"kind": "Workflow", "metadata": {"namespace": "default", "uid": "u-unnamed", "name": ""}}
    await argo.archive([not_a_workflow, unnamed])
    async with SourceDatabase(argo.url) as source:
        report, ingestor = await import_source(pool, settings, ArgoArchive(source=source), page_size=5)
    assert report.rows == len(WORKFLOWS) + 2
    assert ingestor.stats.errors == {"invalid_object": 2}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM runs") == len(WORKFLOWS)


async def test_namespace_and_since_narrow_the_import(argo, pool, settings) -> None:
    namespaces = {wf["metadata"]["namespace"] for wf in WORKFLOWS}
    namespace = sorted(namespaces)[0]
    started = sorted(_time(wf["status"]["startedAt"]) for wf in WORKFLOWS if (wf.get("status") or {}).get("startedAt"))
    since = started[len(started) // 2]
    async with SourceDatabase(argo.url) as source:
        in_namespace, _ = await import_source(pool, settings, ArgoArchive(source=source, namespace=namespace))
        recent, _ = await import_source(pool, settings, ArgoArchive(source=source, since=since))
    assert in_namespace.rows == sum(wf["metadata"]["namespace"] == namespace for wf in WORKFLOWS)
    assert recent.rows == sum(t >= since for t in started)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
