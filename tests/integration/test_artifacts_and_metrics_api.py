"""The artifact index and run metrics over HTTP: listings, details, metric filters and sorts."""

from __future__ import annotations

import json

import pytest

from runledger.store import artifact_listing
from tests.support.artifacts import index_everything, kfp_step_workflow
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.s3 import argo_tgz, s3_settings

ACCURACY = {"r1": 0.91, "r2": 0.72, "r3": 0.95, "r4": 0.88, "r5": 0.99}


async def get_json(api, path: str, status: int = 200) -> dict:
    async with api.get(path) as response:
        body = await response.json()
        assert response.status == status, body
        return body


def consumer(name: str, key: str) -> dict:
    """A run whose step reads `key` (written by another run) as its input."""
    wf = WorkflowBuilder(name=name)
    wf.node(f"{name}-eval", "Succeeded", inputs={"artifacts": [
        {"name": "model", "path": "/tmp/model", "s3": {"bucket": "mlpipeline", "key": key, "endpoint": "minio-service.kubeflow:9000"}},
    ]})  # fmt: skip
    return wf.phase("Succeeded").event()


@pytest.fixture
async def api(pool, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path)
    events = []
    for run, accuracy in ACCURACY.items():
        metrics = {"metrics": [{"name": "accuracy", "numberValue": accuracy}, {"name": "bad name!", "numberValue": 1}]}
        await s3_objects.put("mlpipeline", f"runs/{run}/metrics.tgz", argo_tgz("m.json", json.dumps(metrics).encode()))
        await s3_objects.put("mlpipeline", f"runs/{run}/model.bin", run.encode() * 100)
        events.append(kfp_step_workflow(run, {"mlpipeline-metrics": f"runs/{run}/metrics.tgz", "model": f"runs/{run}/model.bin"},
                                        params={"lr": "0.1" if run in ("r1", "r3") else "0.01"}))  # fmt: skip
    events.append(consumer("eval", "runs/r3/model.bin"))
    events.append(consumer("eval-missing", "runs/gone/model.bin"))
    await ingest(pool, settings, events)
    await index_everything(pool, settings)
    async with serve(settings=settings, pool=pool) as session:
        yield session


async def test_a_run_detail_includes_its_metrics(api):
    run = await get_json(api, "/api/v1/runs/uid-r3")
    assert [(m["name"], m["value"], m["step_id"], m["format"]) for m in run["metrics"]] == [
        ("accuracy", 0.95, "r3-train", "RAW")
    ]
    assert run["metrics"][0]["is_run_value"] is True
    assert (await get_json(api, "/api/v1/runs/uid-r3/metrics"))["metrics"] == run["metrics"]
    assert (await get_json(api, "/api/v1/runs/uid-eval/metrics"))["metrics"] == []
    await get_json(api, "/api/v1/runs/nope/metrics", status=404)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metric.accuracy>=0.9", {"r1", "r3", "r5"}),
        ("metric.accuracy>0.95", {"r5"}),
        ("metric.accuracy<0.9", {"r2", "r4"}),
        ("metric.accuracy<=0.88", {"r2", "r4"}),
        ("metric.accuracy=0.72", {"r2"}),
        ("metric.accuracy!=0.72", {"r1", "r3", "r4", "r5"}),
        ("metric.accuracy>=0.9&metric.accuracy<0.99", {"r1", "r3"}),
        ("metric.accuracy>=0.9&param.lr=0.1", {"r1", "r3"}),
        ("metric.recall>0", set()),
    ],
)
async def test_runs_are_filtered_by_metric_comparisons(api, query, expected):
    body = await get_json(api, f"/api/v1/runs?{query}")
    assert {r["name"] for r in body["runs"]} == expected


async def test_runs_sort_by_a_metric_in_both_directions_across_pages(api):
    for sort, expected in (("-metric.accuracy", ["r5", "r3", "r1", "r4", "r2"]), ("metric.accuracy", ["r2", "r4", "r1", "r3", "r5"])):
        names, token = [], None
        while True:
            body = await get_json(api, f"/api/v1/runs?sort={sort}&limit=2" + (f"&page_token={token}" if token else ""))
            names += [r["name"] for r in body["runs"]]
            token = body["next_page_token"]
            if token is None:
                break
        assert names == expected, sort


@pytest.mark.parametrize(
    "query",
    ["metric.accuracy>=high", "metric.>=1", "metric.accuracy>=inf", "sort=-metric.", "sort=accuracy", "sort=--created_at"],
)
async def test_malformed_metric_filters_and_sorts_are_400(api, query):
    body = await get_json(api, f"/api/v1/runs?{query}", status=400)
    assert body["error"]["message"]


async def test_a_token_from_one_sort_is_refused_by_another(api):
    token = (await get_json(api, "/api/v1/runs?sort=-metric.accuracy&limit=2"))["next_page_token"]
    await get_json(api, f"/api/v1/runs?sort=metric.accuracy&limit=2&page_token={token}", status=400)


async def test_artifacts_list_newest_first_with_sizes_and_states_in_pages(api):
    seen, token = [], None
    while True:
        body = await get_json(api, "/api/v1/artifacts?limit=4" + (f"&page_token={token}" if token else ""))
        seen += body["artifacts"]
        token = body["next_page_token"]
        if token is None:
            break
    assert len(seen) == 11  # 5 metrics files, 5 models, 1 input that was never written
    assert [a["id"] for a in seen] == sorted((a["id"] for a in seen), reverse=True)
    by_uri = {a["uri"]: a for a in seen}
    assert by_uri["s3://mlpipeline/runs/r1/model.bin"]["size"] == 200 and by_uri["s3://mlpipeline/runs/r1/model.bin"]["state"] == "indexed"
    assert by_uri["s3://mlpipeline/runs/gone/model.bin"]["state"] == "missing"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("uri_prefix=s3://mlpipeline/runs/r3/", {"s3://mlpipeline/runs/r3/metrics.tgz", "s3://mlpipeline/runs/r3/model.bin"}),
        ("run=uid-eval", {"s3://mlpipeline/runs/r3/model.bin"}),
        ("run=uid-r1&step=r1-train&name=model", {"s3://mlpipeline/runs/r1/model.bin"}),
        ("state=missing", {"s3://mlpipeline/runs/gone/model.bin"}),
        ("name=mlpipeline-metrics&uri_prefix=s3://mlpipeline/runs/r5", {"s3://mlpipeline/runs/r5/metrics.tgz"}),
        ("direction=input", {"s3://mlpipeline/runs/r3/model.bin", "s3://mlpipeline/runs/gone/model.bin"}),
        ("uri_prefix=s3://mlpipeline/runs/r_", set()),  # LIKE metacharacters are literal
    ],
)
async def test_artifacts_are_filtered(api, query, expected):
    body = await get_json(api, f"/api/v1/artifacts?{query}")
    assert {a["uri"] for a in body["artifacts"]} == expected


@pytest.mark.parametrize("query", ["state=lost", "step=x", "limit=0", "bogus=1", "page_token=xyz", "run=a&run=b"])
async def test_bad_artifact_queries_are_400(api, query):
    assert (await get_json(api, f"/api/v1/artifacts?{query}", status=400))["error"]["message"]


async def test_an_artifact_by_id_or_uri_shows_who_produced_and_consumed_it(api):
    by_uri = await get_json(api, "/api/v1/artifacts/s3://mlpipeline/runs/r3/model.bin")
    by_id = await get_json(api, f"/api/v1/artifacts/{by_uri['id']}")
    assert by_id == by_uri
    assert [(e["run_id"], e["step_id"], e["name"]) for e in by_uri["produced_by"]] == [("uid-r3", "r3-train", "model")]
    assert [(e["run_id"], e["step_id"], e["namespace"]) for e in by_uri["consumed_by"]] == [("uid-eval", "eval-eval", "ml")]
    assert by_uri["etag"] and by_uri["size"] == 200 and by_uri["events_truncated"] is False


async def test_consumers_beyond_the_cap_do_not_crowd_out_the_producer(pool, s3, s3_objects, tmp_path, monkeypatch):
    monkeypatch.setattr(artifact_listing, "MAX_EVENTS", 2)
    settings = s3_settings(s3, tmp_path)
    await s3_objects.put("mlpipeline", "runs/p/model.bin", b"model")
    readers = [consumer(f"reader-{i}", "runs/p/model.bin") for i in range(3)]
    await ingest(pool, settings, [kfp_step_workflow("p", {"model": "runs/p/model.bin"}), *readers])
    async with serve(settings=settings, pool=pool) as api:
        body = await get_json(api, "/api/v1/artifacts/s3://mlpipeline/runs/p/model.bin")
    assert [e["run_id"] for e in body["produced_by"]] == ["uid-p"]
    assert len(body["consumed_by"]) == 2 and body["events_truncated"] is True


async def test_a_metrics_artifact_shows_its_metrics_and_the_entries_it_rejected(api):
    body = await get_json(api, "/api/v1/artifacts/s3://mlpipeline/runs/r1/metrics.tgz")
    assert body["metrics"] == [{"name": "accuracy", "value": 0.91, "format": "RAW"}]
    assert [e["name"] for e in body["errors"]] == ["bad name!"]


async def test_unknown_artifacts_are_404_and_malformed_references_400(api):
    await get_json(api, "/api/v1/artifacts/999999", status=404)
    await get_json(api, "/api/v1/artifacts/s3://nope/nothing", status=404)
    await get_json(api, "/api/v1/artifacts/gs://bucket/key", status=400)


async def test_steps_show_their_artifacts_with_index_state_and_size(api):
    steps = (await get_json(api, "/api/v1/runs/uid-r2/steps"))["steps"]
    outputs = {a["name"]: a for a in steps[0]["outputs"]["artifacts"]}
    assert outputs["model"]["size"] == 200 and outputs["model"]["state"] == "indexed" and outputs["model"]["artifact_id"]


async def test_runs_compare_side_by_side_with_parameters_and_metrics(api):
    body = await get_json(api, "/api/v1/runs/compare?ids=uid-r1,uid-r2,uid-nope")
    assert [r["id"] for r in body["runs"]] == ["uid-r1", "uid-r2"] and body["missing"] == ["uid-nope"]
    assert body["parameters"]["lr"] == {"uid-r1": "0.1", "uid-r2": "0.01"}
    assert body["metrics"]["accuracy"] == {"uid-r1": 0.91, "uid-r2": 0.72}
    for bad in ("", "ids=", "ids=" + ",".join(f"r{i}" for i in range(51)), "ids=a&x=1"):
        await get_json(api, f"/api/v1/runs/compare?{bad}", status=400)


async def test_a_pipeline_metric_is_a_time_series_across_its_runs(api):
    body = await get_json(api, "/api/v1/pipelines/trainer/metrics?name=accuracy")
    assert sorted(p["value"] for p in body["points"]) == sorted(ACCURACY.values())
    assert body["truncated"] is False
    assert (await get_json(api, "/api/v1/pipelines/trainer/metrics?name=accuracy&limit=2"))["truncated"] is True
    assert (await get_json(api, "/api/v1/pipelines/other/metrics?name=accuracy"))["points"] == []
    await get_json(api, "/api/v1/pipelines/trainer/metrics", status=400)
