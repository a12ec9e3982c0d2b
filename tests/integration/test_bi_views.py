"""The SQL views for BI tools (v_runs, v_steps, v_metrics) tell what the tables hold, and stay cheap.

Data arrives the way it does in production: workflows and pods through the Ingestor, metrics
through the artifact indexer reading metrics files from S3.
"""

from __future__ import annotations

import json

import asyncpg

from runledger.core.run_state import WatchEvent
from runledger.core.settings import Settings
from runledger.service import build_ingestor
from tests.support.artifacts import index_everything
from tests.support.builders import WorkflowBuilder
from tests.support.real_objects import fixture_files
from tests.support.s3 import argo_tgz, s3_settings
from tests.support.workflows import load

VIEWS = ("v_runs", "v_steps", "v_metrics", "v_pipeline_stats_daily", "v_pipeline_failures_daily")
FAILED = ("Failed", "Error")


async def ingest(pool: asyncpg.Pool, settings: Settings, workflows: list[dict], pods: list[dict] = ()) -> None:
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        for event in workflows:
            await ingestor.submit(WatchEvent.model_validate(event))
        for pod in pods:
            await ingestor.submit_pod(WatchEvent(type="MODIFIED", object=pod))
        await ingestor.drain()


def step_pod(wf: WorkflowBuilder, node_id: str, *, image: str, reason: str, exit_code: int, restarts: int, node: str) -> dict:
    """The pod Argo ran a node in, as the API server returns it once the main container ended."""
    meta = wf.obj["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-t-{node_id}", "namespace": meta["namespace"], "uid": f"pod-{node_id}", "resourceVersion": "7",
            "labels": {"workflows.argoproj.io/workflow": meta["name"]},
            "annotations": {"workflows.argoproj.io/node-id": node_id},
            "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": meta["name"], "uid": meta["uid"],
                                 "controller": True}],
        },
        "spec": {"nodeName": node, "containers": [{"name": "wait", "image": "quay.io/argoproj/argoexec:v3.5.8"}, {"name": "main", "image": image}]},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "main", "restartCount": restarts, "state": {"terminated": {
            "exitCode": exit_code, "reason": reason, "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:01:00Z"}}}]},
    }  # fmt: skip


async def test_the_views_exist_and_document_every_column(conn):
    for view in VIEWS:
        assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE oid = $1::regclass", view) == "v"
        assert await conn.fetchval("SELECT obj_description($1::regclass, 'pg_class')", view)
        undocumented = await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
            " AND col_description(attrelid, attnum) IS NULL",
            view,
        )
        assert not undocumented, (view, [r["attname"] for r in undocumented])


async def test_v_runs_has_one_row_per_run_with_its_steps_counted(pool, conn, settings):
    gone = WorkflowBuilder(name="gone")
    gone.node("x", "Error", at="2026-01-01T00:00:30Z")
    events = [{"type": "ADDED", "object": load(p)} for p in fixture_files()]
    events += [gone.phase("Error", at="2026-01-01T00:00:40Z").event(), gone.event("DELETED")]
    await ingest(pool, settings, events)

    expected = await conn.fetch("""
        SELECT r.id, r.namespace, r.name, r.pipeline_name, r.kfp_run_id, r.scheduled_workflow, r.phase,
               coalesce(r.created_at, r.first_seen_at) AS created_at, r.started_at, r.finished_at,
               extract(epoch FROM r.finished_at - r.started_at)::float8 AS duration_seconds,
               r.deleted_at IS NOT NULL AS deleted, r.labels, r.parameters,
               (SELECT count(*) FROM steps s WHERE s.run_id = r.id)::int AS step_count,
               (SELECT count(*) FROM steps s WHERE s.run_id = r.id AND s.phase IN ('Failed', 'Error'))::int AS failed_steps,
               r.message, r.shutdown, r.resources_duration, r.progress, r.estimated_duration
        FROM runs r ORDER BY r.id""")  # fmt: skip
    rows = await conn.fetch("SELECT * FROM v_runs ORDER BY id")
    assert len(rows) == len(fixture_files()) + 1
    assert [dict(r) for r in rows] == [dict(r) for r in expected]
    assert any(r["failed_steps"] for r in rows if r["id"] != "uid-gone"), "the fixtures hold failed steps"
    assert any(r["duration_seconds"] for r in rows)
    assert any(r["shutdown"] == "Terminate" for r in rows), "a fixture was terminated (spec.shutdown)"
    assert any(r["resources_duration"] and r["progress"] for r in rows), "fixtures account resourcesDuration"
    [deleted] = [r for r in rows if r["deleted"]]
    assert (deleted["id"], deleted["step_count"], deleted["failed_steps"], deleted["duration_seconds"]) == ("uid-gone", 1, 1, None)


async def test_v_steps_has_one_row_per_step_with_what_its_pod_adds(pool, conn, settings):
    wf = WorkflowBuilder(name="churn")
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "churn-pipeline"
    wf.node("prep", "Succeeded", at="2026-01-01T00:00:20Z", startedAt="2026-01-01T00:00:08Z", displayName="prep", outputs={"exitCode": "0"})
    wf.node("train", "Failed", at="2026-01-01T00:01:00Z", startedAt="2026-01-01T00:00:10Z", message="OOMKilled (exit code 137)",
            hostNodeName="node-from-argo", resourcesDuration={"cpu": 50, "nvidia.com/gpu": 50})  # fmt: skip
    wf.node("eval", "Running", startedAt="2026-01-01T00:00:30Z")
    pod = step_pod(wf, "train", image="registry.example/train:1.4", reason="OOMKilled", exit_code=137, restarts=2, node="gpu-node-7")
    await ingest(pool, settings, [wf.phase("Failed", at="2026-01-01T00:01:05Z").event()], [pod])

    rows = {r["id"]: r for r in await conn.fetch("SELECT * FROM v_steps WHERE run_id = 'uid-churn'")}
    assert set(rows) == {r["id"] for r in await conn.fetch("SELECT id FROM steps WHERE run_id = 'uid-churn'")} == {"prep", "train", "eval"}
    prep, train, running = rows["prep"], rows["train"], rows["eval"]
    assert {(r["namespace"], r["pipeline_name"], r["run_name"], r["type"], r["template"]) for r in rows.values()} == {
        ("ml", "churn-pipeline", "churn", "Pod", "t")
    }
    assert (prep["name"], prep["display_name"], prep["phase"], prep["duration_seconds"], prep["exit_code"]) == ("churn.prep", "prep", "Succeeded", 12.0, 0)
    # Nothing from a pod: the step's own columns, and NULL for what only a pod can tell.
    assert (prep["image"], prep["termination_reason"], prep["restart_count"], prep["host_node"]) == (None, None, None, None)
    assert (train["phase"], train["duration_seconds"], train["message"]) == ("Failed", 50.0, "OOMKilled (exit code 137)")
    assert (train["image"], train["termination_reason"], train["restart_count"], train["exit_code"], train["host_node"]) == (
        "registry.example/train:1.4", "OOMKilled", 2, 137, "gpu-node-7"
    )
    assert train["pod_name"] and (running["finished_at"], running["duration_seconds"]) == (None, None)
    assert (train["resources_duration"], prep["resources_duration"]) == ({"cpu": 50, "nvidia.com/gpu": 50}, {})
    created = await conn.fetchval("SELECT created_at FROM v_runs WHERE id = 'uid-churn'")
    assert {r["run_created_at"] for r in rows.values()} == {created}


async def test_v_metrics_has_every_step_metric_and_marks_the_run_value(pool, conn, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path)
    events = []
    for run, (first, last) in {"r1": (0.70, 0.91), "r2": (0.60, 0.72)}.items():
        wf = WorkflowBuilder(name=run)
        wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "trainer"
        # Two steps report accuracy; the one that finished last holds the run's value.
        for step, accuracy, finished in (("train", first, "2026-01-01T00:01:00Z"), ("tune", last, "2026-01-01T00:02:00Z")):
            metrics = [{"name": "accuracy", "numberValue": accuracy}]
            if step == "train":
                metrics.append({"name": "loss", "numberValue": 1 - accuracy, "format": "PERCENTAGE"})
            key = f"runs/{run}/{step}/metrics.tgz"
            await s3_objects.put("mlpipeline", key, argo_tgz("m.json", json.dumps({"metrics": metrics}).encode()))
            wf.node(step, "Succeeded", at=finished, outputs={"artifacts": [{"name": "mlpipeline-metrics", "path": "/tmp/m.json", "s3": {
                "bucket": "mlpipeline", "key": key, "endpoint": "minio-service.kubeflow:9000", "insecure": True}}]})  # fmt: skip
        events.append(wf.phase("Succeeded", at="2026-01-01T00:02:05Z").event())
    await ingest(pool, settings, events)
    await index_everything(pool, settings)

    rows = await conn.fetch("SELECT * FROM v_metrics ORDER BY run_id, name, step_id")
    base = await conn.fetch("SELECT run_id, step_id, name, value, format FROM metrics ORDER BY run_id, name, step_id")
    assert len(base) == 6
    assert [(r["run_id"], r["step_id"], r["name"], r["value"], r["format"]) for r in rows] == [tuple(r) for r in base]
    run_values = {(r["run_id"], r["name"]): (r["step_id"], r["value"]) for r in await conn.fetch("SELECT * FROM run_metrics")}
    assert {(r["run_id"], r["name"]): (r["step_id"], r["value"]) for r in rows if r["is_run_value"]} == run_values == {
        ("uid-r1", "accuracy"): ("tune", 0.91), ("uid-r1", "loss"): ("train", 1 - 0.70),
        ("uid-r2", "accuracy"): ("tune", 0.72), ("uid-r2", "loss"): ("train", 1 - 0.60),
    }  # fmt: skip
    assert {(r["namespace"], r["pipeline_name"]) for r in rows} == {("ml", "trainer")}
    assert {r["run_name"] for r in rows} == {"r1", "r2"}
    assert {r["format"] for r in rows if r["name"] == "loss"} == {"PERCENTAGE"}
    runs = {r["id"]: r["created_at"] for r in await conn.fetch("SELECT id, created_at FROM v_runs")}
    assert all(r["created_at"] == runs[r["run_id"]] for r in rows)


def relations(plan: list) -> set[str]:
    found: set[str] = set()

    def walk(node: dict) -> None:
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def indexes(plan: list) -> set[str]:
    found: set[str] = set()

    def walk(node: dict) -> None:
        if "Index Name" in node:
            found.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


async def explain(conn: asyncpg.Connection, sql: str) -> list:
    return json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}"))


async def test_a_query_on_a_views_own_columns_skips_its_joins(conn):
    assert relations(await explain(conn, "SELECT DISTINCT name FROM v_metrics")) == {"metrics"}
    assert relations(await explain(conn, "SELECT run_id, id, phase, duration_seconds FROM v_steps")) == {"steps"}
    assert relations(await explain(conn, "SELECT id, phase FROM v_runs")) == {"runs"}
    assert relations(await explain(conn, "SELECT namespace, image FROM v_steps")) == {"steps", "runs", "step_pods"}


async def test_time_filters_on_created_at_can_use_the_runs_listing_index(conn):
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        since = "created_at >= '2026-01-01T00:00:00Z'"
        assert "runs_by_created" in indexes(await explain(conn, f"SELECT id FROM v_runs WHERE {since} ORDER BY created_at DESC LIMIT 10"))
        for view, column in (("v_steps", "run_created_at"), ("v_metrics", "created_at")):
            used = indexes(await explain(conn, f"SELECT * FROM {view} WHERE {column} >= '2026-01-01T00:00:00Z'"))
            assert used & {"runs_by_created", "runs_by_namespace", "runs_by_phase", "runs_by_pipeline"}, (view, used)
