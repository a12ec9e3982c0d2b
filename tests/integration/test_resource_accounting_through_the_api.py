"""What runs and steps used (Argo's resourcesDuration), their progress, estimated and actual
durations, read over HTTP: on the run and its steps, as run listing filters and sorts, and summed per
pipeline next to its metric series. Values Argo would never write are counted and read as absent."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.real_objects import FIXTURES
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.workflows import load

REAL = FIXTURES / "argo" / "artifact_gc_test__artgcWorkflow.yaml"
# name -> (pipeline, status.resourcesDuration); finished 30 s after they started.
USED = {
    "small": ("train", {"cpu": 30, "memory": 100}),
    "gpu": ("train", {"cpu": 120, "memory": 400, "nvidia.com/gpu": 20}),
    "big": ("train", {"cpu": 300}),
    "other": ("serve", {"cpu": 1000, "memory": 1}),
    "none": ("train", {}),
}


def accounted(name: str, pipeline: str, resources: dict) -> dict:
    wf = WorkflowBuilder(name=name)
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = pipeline
    wf.phase("Running", at="2026-01-01T00:00:05Z")
    wf.node(f"{name}-main", "Succeeded", at="2026-01-01T00:00:30Z", resourcesDuration=resources)
    wf.phase("Succeeded", at="2026-01-01T00:00:35Z")
    wf.obj["status"].update(resourcesDuration=resources, progress="1/1", estimatedDuration=40)
    return wf.event()


def still_running() -> dict:
    wf = WorkflowBuilder(name="running")
    wf.phase("Running", at="2026-01-01T00:00:05Z")
    wf.obj["status"].update(resourcesDuration={"cpu": -4, "memory": "much", "gpu": 2**60}, progress="half")
    return wf.event()


@pytest.fixture
async def api(pool, settings):
    events = [accounted(name, pipeline, used) for name, (pipeline, used) in USED.items()]
    events += [still_running(), {"type": "ADDED", "object": load(REAL)}]
    ingestor = await ingest(pool, settings, events)
    async with serve(settings=settings, pool=pool) as session:
        yield session, ingestor


async def get_json(api, path: str, status: int = 200) -> dict:
    async with api.get(path) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def names(api, query: str) -> list[str]:
    return [r["name"] for r in (await get_json(api, f"/api/v1/runs?{query}"))["runs"]]


async def test_a_run_and_its_steps_show_what_they_used(api):
    api, _ = api
    run_id = translate_workflow(load(REAL)).run.id
    run = await get_json(api, f"/api/v1/runs/{run_id}")
    assert run["resources_duration"] == {"cpu": 7, "memory": 4}
    assert (run["progress"], run["estimated_duration"], run["duration"]) == ("2/2", None, 11.0)  # 22:29:58 -> 22:30:09
    steps = {s["id"]: s["resources_duration"] for s in (await get_json(api, f"/api/v1/runs/{run_id}/steps"))["steps"]}
    assert steps["two-artgc-8tcvt-802059674"] == {"cpu": 3, "memory": 2}
    assert steps["two-artgc-8tcvt-1079173309"] == {"cpu": 4, "memory": 2}

    gpu = await get_json(api, "/api/v1/runs/uid-gpu")
    assert gpu["resources_duration"] == {"cpu": 120, "memory": 400, "nvidia.com/gpu": 20}
    assert (gpu["progress"], gpu["estimated_duration"], gpu["duration"]) == ("1/1", 40, 30.0)


async def test_values_argo_would_never_write_are_counted_and_read_as_absent(api):
    api, ingestor = api
    assert ingestor.stats.errors == {}
    assert ingestor.stats.warnings["bad_seconds"] == 3 and ingestor.stats.warnings["bad_progress"] == 1
    running = await get_json(api, "/api/v1/runs/uid-running")
    assert running["phase"] == "Running"
    assert (running["resources_duration"], running["progress"], running["duration"]) == ({}, None, None)


async def test_runs_are_filtered_by_the_seconds_of_a_resource(api):
    api, _ = api
    assert sorted(await names(api, "resources.cpu>=100")) == ["big", "gpu", "other"]
    assert sorted(await names(api, "resources.cpu<100")) == ["small", "two-artgc-8tcvt"]
    assert await names(api, "resources.nvidia.com/gpu>0") == ["gpu"]
    assert await names(api, "resources.cpu>=100&resources.memory<=100") == ["other"]  # big reports no memory
    assert await names(api, "resources.cpu=300") == ["big"]
    body = await get_json(api, "/api/v1/runs?resources.cpu>=lots", status=400)
    assert "resources.cpu" in body["error"]["message"] and "not a number" in body["error"]["message"]


async def test_runs_are_sorted_by_a_resource_across_pages(api):
    api, _ = api
    seen, token = [], None
    while True:
        page = await get_json(api, "/api/v1/runs?sort=-resources.cpu&limit=2" + (f"&page_token={token}" if token else ""))
        seen += [(r["name"], r["resources_duration"]["cpu"]) for r in page["runs"]]
        if not (token := page["next_page_token"]):
            break
    assert seen == [("other", 1000), ("big", 300), ("gpu", 120), ("small", 30), ("two-artgc-8tcvt", 7)]
    assert await names(api, "sort=resources.memory") == ["other", "two-artgc-8tcvt", "small", "gpu"]
    await get_json(api, "/api/v1/runs?sort=-resources.", status=400)


async def test_a_pipelines_metric_series_sums_what_its_runs_used(api):
    api, _ = api
    train = await get_json(api, "/api/v1/pipelines/train/metrics?name=accuracy")
    assert train["resources_duration"] == {"cpu": 450, "memory": 500, "nvidia.com/gpu": 20}
    assert train["runs"] == 4 and train["points"] == []
    serve_ = await get_json(api, "/api/v1/pipelines/serve/metrics?name=accuracy")
    assert (serve_["resources_duration"], serve_["runs"]) == ({"cpu": 1000, "memory": 1}, 1)
    nothing = await get_json(api, "/api/v1/pipelines/train/metrics?name=accuracy&created_after=2030-01-01T00:00:00Z")
    assert (nothing["resources_duration"], nothing["runs"]) == ({}, 0)
