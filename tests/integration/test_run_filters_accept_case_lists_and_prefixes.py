"""GET /api/v1/runs filters as people write them: phases in any case, lists of phases, namespaces
and pipelines, and a trailing `*` on argument and label values for a prefix match."""

from __future__ import annotations

import json

import pytest

from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest

RUNS = [
    # name, namespace, phase, pipeline, model argument, team label
    ("a", "ml", "Failed", "train", "resnet50", "ml-vision"),
    ("b", "ml", "Error", "train", "resnet101", "ml-nlp"),
    ("c", "ml", "Succeeded", "eval", "bert", "ml-nlp"),
    ("d", "data", "Running", "etl", "res%net", "data"),
    ("e", "data", "Succeeded", "etl, nightly", "res_net", "ml_x"),
    ("f", "ops", "Failed", "etl", "re\\snet", "ops"),
]


@pytest.fixture
async def api(pool, settings):
    events = []
    for name, namespace, phase, pipeline, model, team in RUNS:
        wf = WorkflowBuilder(name=name, namespace=namespace)
        wf.obj["metadata"]["labels"]["team"] = team
        annotations = wf.obj["metadata"].setdefault("annotations", {})
        annotations["pipelines.kubeflow.org/pipeline_spec"] = json.dumps({"name": pipeline})
        wf.obj["spec"]["arguments"]["parameters"] = [{"name": "model", "value": model}]
        wf.obj["status"]["phase"] = phase
        events.append(wf.event("ADDED"))
    await ingest(pool, settings, events)
    async with serve(settings=settings, pool=pool) as client:
        yield client


async def names(api, query: str) -> set[str]:
    async with api.get(f"/api/v1/runs?{query}") as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return {r["name"] for r in body["runs"]}


async def refusal(api, query: str) -> str:
    async with api.get(f"/api/v1/runs?{query}") as resp:
        body = await resp.json()
        assert resp.status == 400, body
        return body["error"]["message"]


async def test_a_phase_in_any_case_selects_the_runs_in_that_phase(api):
    assert await names(api, "phase=failed") == {"a", "f"}
    assert await names(api, "phase=FAILED") == {"a", "f"}
    assert await names(api, "phase=Failed") == {"a", "f"}


async def test_an_unknown_phase_is_refused_naming_the_valid_ones(api):
    message = await refusal(api, "phase=broken")
    assert "broken" in message
    for phase in ("Pending", "Running", "Succeeded", "Failed", "Error", "Skipped", "Omitted"):
        assert phase in message


async def test_phases_separated_by_commas_or_repeated_mean_any_of_them(api):
    assert await names(api, "phase=failed,error") == {"a", "b", "f"}
    assert await names(api, "phase=Failed&phase=Error") == {"a", "b", "f"}
    assert await names(api, "phase=failed,error&phase=running") == {"a", "b", "d", "f"}


async def test_namespaces_separated_by_commas_or_repeated_mean_any_of_them(api):
    assert await names(api, "namespace=ml,ops") == {"a", "b", "c", "f"}
    assert await names(api, "namespace=data&namespace=ops") == {"d", "e", "f"}


async def test_repeated_pipelines_mean_any_of_them_and_a_comma_stays_part_of_the_name(api):
    assert await names(api, "pipeline=train&pipeline=eval") == {"a", "b", "c"}
    assert await names(api, "pipeline=etl,%20nightly") == {"e"}


async def test_an_argument_value_ending_in_a_star_matches_by_prefix(api):
    assert await names(api, "param.model=resnet*") == {"a", "b"}
    assert await names(api, "param.model=resnet1*") == {"b"}
    assert await names(api, "param.model=*") == {"a", "b", "c", "d", "e", "f"}
    assert await names(api, "param.model=resnet") == set()  # without the star, the value is exact


async def test_like_wildcards_in_a_prefix_are_taken_literally(api):
    assert await names(api, "param.model=res%25*") == {"d"}
    assert await names(api, "param.model=res_*") == {"e"}
    assert await names(api, "param.model=re%5C*") == {"f"}


async def test_a_prefix_ending_next_to_the_surrogates_is_an_ordinary_prefix(api):
    assert await names(api, "param.model=%ED%9F%BF*") == set()  # U+D7FF, whose successor is U+E000


async def test_a_label_value_ending_in_a_star_matches_by_prefix(api):
    assert await names(api, "label=team=ml-*") == {"a", "b", "c"}
    assert await names(api, "label=team=ml_*") == {"e"}
    assert await names(api, "label=team=ml-*&phase=error") == {"b"}


async def test_a_prefix_filter_pages_through_its_runs(api):
    seen, token = [], None
    while True:
        async with api.get("/api/v1/runs?param.model=res*&limit=2" + (f"&page_token={token}" if token else "")) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        seen += [r["name"] for r in body["runs"]]
        token = body["next_page_token"]
        if token is None:
            break
    assert sorted(seen) == ["a", "b", "d", "e"]
