"""Indexing artifacts against a real S3 endpoint (moto over HTTP, behind a fault-injecting proxy)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import asyncpg
import pytest

from runledger.core.settings import Settings
from runledger.service import build_indexer
from runledger.store import connection as db
from tests.support.artifacts import (
    index_everything,
    indexing,
    kfp_step_workflow,
    producing_workflow,
)
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.s3 import SECRET_KEY, FaultyS3, S3Objects, argo_tgz, s3_settings
from tests.support.tcp_proxy import postgres_proxy
from tests.support.waiting import eventually
from tests.support.workflows import load


async def artifact(conn: asyncpg.Connection, uri: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT *, xmin::text::bigint AS version FROM artifacts WHERE uri = $1", uri)
    assert row is not None, f"{uri} was never discovered"
    return row


@pytest.fixture
def indexed_settings(s3: FaultyS3, tmp_path: Path) -> Settings:
    return s3_settings(s3, tmp_path, artifacts={"retry_max_seconds": 0.05, "max_attempts": 4})


async def test_every_fixture_artifact_in_s3_is_indexed_with_its_head_and_absent_ones_are_missing(
    pool, conn, s3, s3_objects: S3Objects, tmp_path
):
    settings = s3_settings(s3, tmp_path)
    events = [{"type": "ADDED", "object": load(path)} for path in fixture_files()]
    await ingest(pool, settings, events)
    refs = await conn.fetch("SELECT DISTINCT uri, s3_bucket, s3_key FROM artifact_refs WHERE uri IS NOT NULL ORDER BY uri")
    assert len(refs) > 20, "the fixtures hold dozens of S3 artifacts"
    placed: dict[str, str] = {}
    for i, ref in enumerate(refs):
        if i % 5 != 0:  # every fifth object was never uploaded (or was garbage-collected)
            placed[ref["uri"]] = await s3_objects.put(ref["s3_bucket"], ref["s3_key"], f"object {i}".encode() * (i + 1))

    indexer = await index_everything(pool, settings)

    for i, ref in enumerate(refs):
        row = await artifact(conn, ref["uri"])
        if ref["uri"] in placed:
            assert (row["state"], row["etag"], row["size"]) == ("indexed", placed[ref["uri"]], len(b"object %d" % i) * (i + 1))
            assert row["last_modified"] is not None and row["content_type"]
        else:
            assert row["state"] == "missing" and "404" in row["error"]
    assert await conn.fetchval("SELECT count(*) FROM artifact_queue") == 0
    assert indexer.stats.outcomes["indexed"] == len(placed)
    assert indexer.stats.outcomes["missing"] == len(refs) - len(placed)


async def test_key_only_artifacts_are_located_through_the_workflows_repository(pool, conn, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path)
    path = next(p for p in fixture_files() if p.name == "artifact_gc_test__artgcWorkflow.yaml")
    await ingest(pool, settings, [{"type": "ADDED", "object": load(path)}])
    rows = await conn.fetch("SELECT uri, location_source, s3_endpoint FROM artifact_refs WHERE uri IS NOT NULL")
    key_only = [r for r in rows if r["location_source"] == "workflow-repository"]
    assert key_only, "the fixture's main-logs artifacts carry only a key"
    assert all(r["uri"].startswith("s3://my-bucket/") and r["s3_endpoint"] == "minio:9000" for r in key_only)


async def test_key_only_artifacts_without_a_recorded_repository_use_the_configured_default(
    pool, conn, s3, tmp_path
):
    settings = s3_settings(s3, tmp_path, artifacts={"repository": {"bucket": "team-bucket", "endpoint": "minio:9000"}})
    wf = WorkflowBuilder(name="keyonly")
    wf.node("keyonly-1", "Succeeded", outputs={"artifacts": [{"name": "out", "s3": {"key": "k/out.tgz"}}]})
    await ingest(pool, settings, [wf.phase("Succeeded").event()])
    row = await conn.fetchrow("SELECT uri, location_source, s3_endpoint FROM artifact_refs")
    assert tuple(row) == ("s3://team-bucket/k/out.tgz", "configured-repository", "minio:9000")


async def test_the_same_object_from_two_runs_is_one_artifact_with_two_events(pool, conn, indexed_settings, s3_objects):
    await s3_objects.put("mlpipeline", "shared/model.bin", b"weights")
    await ingest(pool, indexed_settings, [producing_workflow("a", "shared/model.bin"), producing_workflow("b", "shared/model.bin")])
    assert await conn.fetchval("SELECT count(*) FROM artifacts") == 1
    events = await conn.fetch("SELECT run_id, artifact_id FROM artifact_refs ORDER BY run_id")
    assert len(events) == 2 and events[0]["artifact_id"] == events[1]["artifact_id"] is not None


async def test_forbidden_objects_are_recorded_as_forbidden_and_not_retried(pool, conn, s3, indexed_settings, s3_objects):
    await s3_objects.put("mlpipeline", "secret/model.bin", b"x")
    s3.deny("/mlpipeline/secret/model.bin")
    await ingest(pool, indexed_settings, [producing_workflow("a", "secret/model.bin")])
    await index_everything(pool, indexed_settings)
    row = await artifact(conn, "s3://mlpipeline/secret/model.bin")
    assert row["state"] == "forbidden" and "403" in row["error"]
    assert s3.count("HEAD", "/mlpipeline/secret/model.bin") == 1


async def test_5xx_answers_are_retried_with_backoff_until_the_object_is_indexed(pool, conn, s3, indexed_settings, s3_objects):
    etag = await s3_objects.put("mlpipeline", "flaky/model.bin", b"eventually")
    s3.fail("/mlpipeline/flaky/model.bin", status=503, times=2)
    await ingest(pool, indexed_settings, [producing_workflow("a", "flaky/model.bin")])
    indexer = await index_everything(pool, indexed_settings)
    row = await artifact(conn, "s3://mlpipeline/flaky/model.bin")
    assert (row["state"], row["etag"]) == ("indexed", etag)
    assert s3.count("HEAD", "/mlpipeline/flaky/model.bin") == 3
    assert indexer.stats.outcomes["retried"] == 2


async def test_slow_responses_time_out_and_are_retried(pool, conn, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path, artifacts={"timeout_seconds": 0.3, "retry_max_seconds": 0.05})
    await s3_objects.put("mlpipeline", "slow/model.bin", b"late")
    s3.slow("/mlpipeline/slow/model.bin", seconds=2.0, times=1)
    await ingest(pool, settings, [producing_workflow("a", "slow/model.bin")])
    indexer = await index_everything(pool, settings)
    assert (await artifact(conn, "s3://mlpipeline/slow/model.bin"))["state"] == "indexed"
    assert indexer.stats.outcomes["retried"] == 1


async def test_an_object_that_keeps_failing_is_marked_failed_after_the_last_attempt(pool, conn, s3, indexed_settings):
    s3.fail("/mlpipeline/down/model.bin", status=500)
    await ingest(pool, indexed_settings, [producing_workflow("a", "down/model.bin")])
    await index_everything(pool, indexed_settings)
    row = await artifact(conn, "s3://mlpipeline/down/model.bin")
    assert row["state"] == "failed" and "500" in row["error"] and "4 attempts" in row["error"]
    assert s3.count("HEAD", "/mlpipeline/down/model.bin") == indexed_settings.artifacts.max_attempts
    assert await conn.fetchval("SELECT count(*) FROM artifact_queue") == 0


async def test_an_unchanged_etag_rewrites_nothing_and_a_new_one_updates_the_row(pool, conn, s3, indexed_settings, s3_objects):
    await s3_objects.put("mlpipeline", "model.bin", b"v1")
    await ingest(pool, indexed_settings, [producing_workflow("a", "model.bin")])
    await index_everything(pool, indexed_settings)
    first = await artifact(conn, "s3://mlpipeline/model.bin")

    await ingest(pool, indexed_settings, [producing_workflow("b", "model.bin")])  # a second producer, same bytes
    indexer = await index_everything(pool, indexed_settings)
    assert s3.count("HEAD", "/mlpipeline/model.bin") == 2
    assert indexer.stats.outcomes == {"unchanged": 1}
    assert (await artifact(conn, "s3://mlpipeline/model.bin"))["version"] == first["version"], "row rewritten"

    etag = await s3_objects.put("mlpipeline", "model.bin", b"v2, longer")
    await ingest(pool, indexed_settings, [producing_workflow("c", "model.bin")])
    await index_everything(pool, indexed_settings)
    row = await artifact(conn, "s3://mlpipeline/model.bin")
    assert (row["etag"], row["size"]) == (etag, len(b"v2, longer"))


async def test_replaying_the_same_workflows_enqueues_nothing_new(pool, conn, indexed_settings, s3_objects):
    await s3_objects.put("mlpipeline", "model.bin", b"v1")
    event = producing_workflow("a", "model.bin")
    await ingest(pool, indexed_settings, [event])
    await index_everything(pool, indexed_settings)
    await ingest(pool, indexed_settings, [event])
    assert await conn.fetchval("SELECT count(*) FROM artifact_queue") == 0


async def test_a_restart_in_the_middle_of_the_queue_resumes_without_checking_anything_twice(
    pool, conn, s3, s3_objects, tmp_path
):
    settings = s3_settings(s3, tmp_path, artifacts={"workers": 2, "claim_batch": 2})
    keys = [f"many/{i}.bin" for i in range(12)]
    for key in keys:
        await s3_objects.put("mlpipeline", key, key.encode())
        s3.slow(f"/mlpipeline/{key}", seconds=0.2)
    await ingest(pool, settings, [producing_workflow(f"r{i}", key) for i, key in enumerate(keys)])

    # Leaving the context is a graceful restart: in-flight objects finish, unstarted claims go back.
    # A grace long enough for a loaded machine: a claim cut off by it waits out its lease instead.
    async with build_indexer(pool=pool, settings=settings, poll_seconds=0.02, grace=60) as first:

        async def some_checked() -> bool:
            return first.stats.checked >= 3

        await eventually(some_checked, timeout=20)
    done_before = await conn.fetchval("SELECT count(*) FROM artifacts WHERE state = 'indexed'")
    assert 3 <= done_before < len(keys)

    await index_everything(pool, settings)
    assert await conn.fetchval("SELECT count(*) FROM artifacts WHERE state = 'indexed'") == len(keys)
    assert all(s3.count("HEAD", f"/mlpipeline/{key}") == 1 for key in keys)


async def test_claims_of_a_crashed_indexer_expire_and_are_taken_again(pool, conn, indexed_settings, s3_objects):
    await s3_objects.put("mlpipeline", "model.bin", b"v1")
    await ingest(pool, indexed_settings, [producing_workflow("a", "model.bin")])
    # A worker that claimed the entry and died: its lease ran out a second ago.
    await conn.execute("UPDATE artifact_queue SET claimed_until = now() - interval '1 second', attempts = 1")
    await index_everything(pool, indexed_settings)
    assert (await artifact(conn, "s3://mlpipeline/model.bin"))["state"] == "indexed"


async def test_credentials_never_appear_in_logs_or_stored_errors(pool, conn, s3, indexed_settings, caplog):
    caplog.set_level(logging.DEBUG)
    s3.deny("/mlpipeline/a.bin")
    s3.fail("/mlpipeline/b.bin", status=500)
    await ingest(pool, indexed_settings, [producing_workflow("a", "a.bin"), producing_workflow("b", "b.bin")])
    await index_everything(pool, indexed_settings)
    errors = [r["error"] for r in await conn.fetch("SELECT error FROM artifacts")]
    assert all(errors) and len(errors) == 2
    assert SECRET_KEY not in caplog.text and SECRET_KEY not in json.dumps(errors)
    assert SECRET_KEY not in repr(indexed_settings)


async def test_a_database_outage_while_recording_keeps_the_outcomes_until_it_returns(dsn, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path, ingest={"retry_max_seconds": 0.2}, database={"statement_timeout_ms": 2000})
    await s3_objects.put("mlpipeline", "model.bin", b"v1")
    proxy, proxied = await postgres_proxy(dsn)
    pool = await db.create_pool(proxied, database=settings.database, min_size=0, timeout=1)
    try:
        await ingest(pool, settings, [producing_workflow("a", "model.bin")])
        s3.slow("/mlpipeline/model.bin", seconds=0.5, times=1)
        async with indexing(pool, settings) as indexer:

            async def head_sent() -> bool:
                return s3.count("HEAD", "/mlpipeline/model.bin") == 1

            async def outage_noticed() -> bool:
                return indexer.stats.db_errors > 0

            async def recorded() -> bool:
                return indexer.stats.outcomes["indexed"] == 1

            await eventually(head_sent)
            proxy.cut()
            await eventually(outage_noticed, timeout=15)
            proxy.restore()
            await eventually(recorded, timeout=20)
    finally:
        await pool.close()
        await proxy.close()
    check = await asyncpg.connect(dsn)
    try:
        assert (await artifact(check, "s3://mlpipeline/model.bin"))["state"] == "indexed"
    finally:
        await check.close()


async def test_kfp_metrics_are_read_from_the_tgz_and_stored_per_run_and_step_with_errors_for_bad_entries(
    pool, conn, indexed_settings, s3_objects
):
    document = {"metrics": [
        {"name": "accuracy", "numberValue": 0.93, "format": "PERCENTAGE"},
        {"name": "loss", "number_value": 0.21},
        {"name": "9lives", "numberValue": 1},
        {"name": "auc", "numberValue": "NaN"},
    ]}  # fmt: skip
    await s3_objects.put("mlpipeline", "runs/m/metrics.tgz", argo_tgz("mlpipeline-metrics.json", json.dumps(document).encode()))
    await ingest(pool, indexed_settings, [kfp_step_workflow("m", {"mlpipeline-metrics": "runs/m/metrics.tgz"})])
    indexer = await index_everything(pool, indexed_settings)

    rows = await conn.fetch("SELECT run_id, step_id, name, value, format FROM metrics ORDER BY name")
    assert [(r["step_id"], r["name"], r["value"], r["format"]) for r in rows] == [
        ("m-train", "accuracy", 0.93, "PERCENTAGE"),
        ("m-train", "loss", 0.21, "RAW"),
    ]
    assert {tuple(r) for r in await conn.fetch("SELECT name, value FROM run_metrics")} == {("accuracy", 0.93), ("loss", 0.21)}
    row = await artifact(conn, "s3://mlpipeline/runs/m/metrics.tgz")
    assert row["state"] == "indexed"
    assert [(e["index"], e["name"]) for e in row["errors"]] == [(2, "9lives"), (3, "auc")]
    assert indexer.stats.metrics_stored == 2


async def test_a_second_run_producing_the_same_metrics_file_gets_its_metrics_without_a_new_read(
    pool, conn, s3, indexed_settings, s3_objects
):
    document = json.dumps({"metrics": [{"name": "accuracy", "numberValue": 0.5}]}).encode()
    await s3_objects.put("mlpipeline", "shared/metrics.tgz", argo_tgz("mlpipeline-metrics.json", document))
    await ingest(pool, indexed_settings, [kfp_step_workflow("a", {"mlpipeline-metrics": "shared/metrics.tgz"})])
    await index_everything(pool, indexed_settings)
    await ingest(pool, indexed_settings, [kfp_step_workflow("b", {"mlpipeline-metrics": "shared/metrics.tgz"})])
    await index_everything(pool, indexed_settings)
    assert s3.count("GET", "/mlpipeline/shared/metrics.tgz") == 1
    assert await conn.fetchval("SELECT count(DISTINCT run_id) FROM metrics WHERE name = 'accuracy'") == 2


async def test_a_metrics_file_in_plain_json_is_accepted_too(pool, conn, indexed_settings, s3_objects):
    document = json.dumps({"metrics": [{"name": "f1", "numberValue": 0.7}]}).encode()
    await s3_objects.put("mlpipeline", "runs/p/metrics.json", document)
    await ingest(pool, indexed_settings, [kfp_step_workflow("p", {"mlpipeline-metrics": "runs/p/metrics.json"})])
    await index_everything(pool, indexed_settings)
    assert await conn.fetchval("SELECT value FROM metrics WHERE name = 'f1'") == 0.7


async def test_a_tar_bomb_or_a_multi_member_tar_is_rejected_and_recorded_not_unpacked(pool, conn, indexed_settings, s3_objects):
    import gzip
    import io
    import tarfile

    bomb = argo_tgz("mlpipeline-metrics.json", b"0" * (40 << 20))
    several = io.BytesIO()
    with tarfile.open(fileobj=several, mode="w") as tar:
        for member in ("a.json", "b.json"):
            info = tarfile.TarInfo(member)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    await s3_objects.put("mlpipeline", "bomb.tgz", bomb)
    await s3_objects.put("mlpipeline", "several.tgz", gzip.compress(several.getvalue()))
    await ingest(pool, indexed_settings, [
        kfp_step_workflow("bomb", {"mlpipeline-metrics": "bomb.tgz"}),
        kfp_step_workflow("several", {"mlpipeline-metrics": "several.tgz"}),
    ])  # fmt: skip
    await index_everything(pool, indexed_settings)
    assert await conn.fetchval("SELECT count(*) FROM metrics") == 0
    for uri, words in (("s3://mlpipeline/bomb.tgz", "byte"), ("s3://mlpipeline/several.tgz", "2 members")):
        row = await artifact(conn, uri)
        assert row["state"] == "indexed" and len(row["errors"]) == 1, row["errors"]
        assert words in row["errors"][0]["reason"], row["errors"][0]["reason"]


async def test_ui_metadata_is_stored_as_the_document_a_dashboard_renders(pool, conn, indexed_settings, s3_objects):
    document = {"outputs": [
        {"type": "markdown", "storage": "inline", "source": "# Report"},
        {"type": "table", "format": "csv", "header": ["a", "b"], "source": "s3://mlpipeline/table.csv"},
    ]}  # fmt: skip
    await s3_objects.put("mlpipeline", "ui.tgz", argo_tgz("mlpipeline-ui-metadata.json", json.dumps(document).encode()))
    await ingest(pool, indexed_settings, [kfp_step_workflow("u", {"mlpipeline-ui-metadata": "ui.tgz"})])
    await index_everything(pool, indexed_settings)
    row = await artifact(conn, "s3://mlpipeline/ui.tgz")
    assert row["content"] == document and row["errors"] == []


async def test_ui_metadata_is_read_when_a_later_run_names_an_already_indexed_object_so(pool, conn, indexed_settings, s3_objects):
    document = {"outputs": [{"type": "markdown", "storage": "inline", "source": "# Shared"}]}
    await s3_objects.put("mlpipeline", "shared-ui.tgz", argo_tgz("ui.json", json.dumps(document).encode()))
    await ingest(pool, indexed_settings, [kfp_step_workflow("plain", {"report": "shared-ui.tgz"})])
    await index_everything(pool, indexed_settings)
    assert (await artifact(conn, "s3://mlpipeline/shared-ui.tgz"))["content"] is None  # a plain output: only its HEAD
    await ingest(pool, indexed_settings, [kfp_step_workflow("ui", {"mlpipeline-ui-metadata": "shared-ui.tgz"})])
    await index_everything(pool, indexed_settings)
    assert (await artifact(conn, "s3://mlpipeline/shared-ui.tgz"))["content"] == document


async def test_a_run_keeps_at_most_the_metric_limit_across_its_steps_files_and_the_rest_are_errors(
    pool, conn, s3, s3_objects, tmp_path
):
    settings = s3_settings(s3, tmp_path, artifacts={"retry_max_seconds": 0.05, "max_metrics": 4})
    wf = WorkflowBuilder(name="two")
    for step in ("a", "b"):
        document = {"metrics": [{"name": f"{step}{i}", "numberValue": i} for i in range(3)]}
        await s3_objects.put("mlpipeline", f"two/{step}.tgz", argo_tgz("m.json", json.dumps(document).encode()))
        wf.node(f"two-{step}", "Succeeded", outputs={"artifacts": [{"name": "mlpipeline-metrics", "s3": {
            "bucket": "mlpipeline", "key": f"two/{step}.tgz", "endpoint": "minio-service.kubeflow:9000", "insecure": True}}]})  # fmt: skip
    await ingest(pool, settings, [wf.phase("Succeeded").event()])
    indexer = await index_everything(pool, settings)

    stored = {(r["step_id"], r["name"]) for r in await conn.fetch("SELECT step_id, name FROM metrics")}
    assert len(stored) == 4 and await conn.fetchval("SELECT count(*) FROM run_metrics") == 4
    files = {step: await artifact(conn, f"s3://mlpipeline/two/{step}.tgz") for step in ("a", "b")}
    full, cut = sorted(files, key=lambda step: len(files[step]["errors"]))
    assert {name for step, name in stored if step == f"two-{full}"} == {f"{full}{i}" for i in range(3)}
    assert {name for step, name in stored if step == f"two-{cut}"} == {f"{cut}0"}  # the first by name
    assert files[full]["errors"] == []
    assert [e["reason"] for e in files[cut]["errors"]] == [
        "run uid-two already holds the most metrics a run keeps (4): 2 of this file's metrics not stored for it"
    ]
    assert indexer.stats.content_errors["metrics_over_run_limit"] == 2
