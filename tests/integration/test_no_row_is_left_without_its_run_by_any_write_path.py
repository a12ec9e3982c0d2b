"""The writer's tables (steps, step_edges, parameters, artifact_refs) hold no foreign key to their run or
artifact (migration 0028): every write path still leaves no row without its run, and no artifact
reference naming an artifact that is not stored: a replay of real and generated workflows with every
event of their runs, an import of Argo's archive, pods written before and after their workflow, and a
batch the database refused."""

from __future__ import annotations

import pytest

from runledger.agent.source_databases import SourceDatabase
from runledger.agent.translate import translate_workflow
from runledger.backfill.argo_archive import ArgoArchive
from runledger.store.writer import ConcurrentWrite, RunWriter
from tests.support.argo_database import new_argo_database
from tests.support.builders import WorkflowBuilder
from tests.support.bulk_import import synthetic_workflows
from tests.support.importing import fixture_workflows, import_source
from tests.support.ingesting import ingest, orphans, replay_command, write_events
from tests.support.nul_objects import pod_with_nul, workflow_with_nul

NONE = {"steps": 0, "step_edges": 0, "parameters": 0, "artifact_refs": 0, "artifact_refs.artifact_id": 0}
WORKFLOWS = fixture_workflows() + synthetic_workflows(runs=20, nodes=6)


async def test_a_replay_leaves_no_row_without_its_run(dsn, conn, settings, tmp_path):
    path = write_events(tmp_path / "events.jsonl", [{"type": "ADDED", "object": wf} for wf in WORKFLOWS])
    code, counts = await replay_command(settings.updated(database={"url": dsn}), [path])
    assert code == 0, counts
    assert await conn.fetchval("SELECT count(*) FROM artifact_refs WHERE artifact_id IS NOT NULL")
    assert await orphans(conn) == NONE


async def test_an_import_leaves_no_row_without_its_run(pool, conn, settings, pg_server_uri):
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    await argo.archive(WORKFLOWS)
    async with SourceDatabase(argo.url) as source:
        report, _ = await import_source(pool, settings, ArgoArchive(source=source), page_size=7)
    assert report.imported == len(WORKFLOWS)
    assert await orphans(conn) == NONE


@pytest.mark.parametrize("pod_first", [True, False], ids=["pod-first", "workflow-first"])
async def test_pods_written_before_or_after_their_workflow_leave_no_row_without_its_run(pod_first, pool, conn, settings):
    pod, workflow = {"type": "ADDED", "object": pod_with_nul()}, {"type": "ADDED", "object": workflow_with_nul()}
    if pod_first:
        await ingest(pool, settings, [], pods=[pod])
        assert await conn.fetchval("SELECT count(*) FROM runs") == 0
        assert await orphans(conn) == NONE
    await ingest(pool, settings, [workflow], pods=[] if pod_first else [pod])
    assert await conn.fetchval("SELECT count(*) FROM step_pods") == 1
    assert await orphans(conn) == NONE


async def test_a_batch_the_database_refused_leaves_no_row_without_its_run(conn):
    wf = WorkflowBuilder(name="train", namespace="team-a")
    wf.node("train-1", "Running", outputs={"parameters": [{"name": "p", "value": "v"}],
                                           "artifacts": [{"name": "out", "s3": {"bucket": "b", "key": "k"}}]})  # fmt: skip
    fresh = WorkflowBuilder(name="fresh", namespace="team-a")
    fresh.node("fresh-1", "Running", outputs={"parameters": [{"name": "p", "value": "v"}]})
    mine, other = RunWriter(), RunWriter()
    await mine.write(conn, [translate_workflow(wf.phase("Running").event("ADDED", resource_version=10)["object"])])
    await other.write(conn, [translate_workflow(wf.phase("Succeeded").event(resource_version=20)["object"])])
    # A new run and an outdated one in one batch: the outdated one's refusal rolls back the new one's rows too.
    batch = [translate_workflow(fresh.phase("Running").event("ADDED")["object"]),
             translate_workflow(wf.phase("Running").event(resource_version=15)["object"])]  # fmt: skip
    with pytest.raises(ConcurrentWrite):
        await mine.write(conn, batch)
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE name = 'fresh'") == 0
    assert await orphans(conn) == NONE
