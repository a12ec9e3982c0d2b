"""The KFP-compatible API over real HTTP: healthz, ListRuns and GetRun of /apis/v1beta1 and /apis/v2beta1."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.artifacts import index_everything, kfp_step_workflow
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.s3 import argo_tgz, s3_settings
from tests.support.workflows import load, raw_nodes

EPOCH_0000 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())


@pytest.fixture
async def api(pool, settings):
    async with serve(settings=settings, pool=pool) as client:
        yield client


async def get_json(api, path: str, status: int = 200) -> dict:
    async with api.get(path) as resp:
        body = await resp.json()
        assert resp.status == status, body
        assert resp.content_type == "application/json"
        return body


def workflow(i: int, *, namespace: str | None = None, phase: str | None = None, kfp_id: bool = True) -> WorkflowBuilder:
    wf = WorkflowBuilder(name=f"wf-{i:02d}", namespace=namespace or ("team-a" if i % 2 else "team-b"))
    wf.obj["metadata"]["creationTimestamp"] = f"2026-01-01T00:{i:02d}:00Z"
    wf.obj["metadata"]["annotations"] = {"pipelines.kubeflow.org/pipeline_spec": '{"name": "%s"}' % ("train" if i % 3 else "etl")}
    if not kfp_id:
        del wf.obj["metadata"]["labels"]["pipeline/runid"]
    wf.phase("Running", at=f"2026-01-01T00:{i:02d}:05Z")
    wf.phase(phase or ("Failed" if i % 4 == 0 else "Succeeded"), at=f"2026-01-01T00:{i:02d}:30Z")
    wf.node("root", "Succeeded", type="DAG").node("train", "Succeeded", parent="root", boundaryID="root")
    return wf


async def seed(pool, settings, n: int = 12) -> None:
    await ingest(pool, settings, [workflow(i).event("ADDED") for i in range(n)])


def names(body: dict) -> list[str]:
    return [r.get("display_name") or r.get("name") for r in body.get("runs", [])]


def v2_filter(*predicates: dict) -> str:
    return quote(json.dumps({"predicates": list(predicates)}))


async def walk(api, path: str, *, repeat_query: bool = True) -> list[str]:
    """Every run of a listing, page by page; later pages send the token with or without the query."""
    seen, token = [], None
    base, _, query = path.partition("?")
    while True:
        if token is None:
            url = path
        else:
            url = f"{base}?page_token={token}" + (f"&{query}" if repeat_query and query else "")
        body = await get_json(api, url)
        seen += names(body)
        token = body.get("next_page_token")
        if token is None:
            return seen


# --- healthz --------------------------------------------------------------------------------------


async def test_healthz_answers_in_both_kfp_shapes_as_single_user(api):
    v1 = await get_json(api, "/apis/v1beta1/healthz")
    v2 = await get_json(api, "/apis/v2beta1/healthz")
    assert v1["multi_user"] is False and v2["multi_user"] is False
    assert set(v1) == {"commit_sha", "tag_name", "multi_user"}
    assert set(v2) == {"commit_sha", "tag_name", "multi_user", "pipeline_store"}
    assert v2["tag_name"].startswith("runledger-")


# --- listing --------------------------------------------------------------------------------------


async def test_v2_lists_oldest_first_by_default_in_kfp_shape(api, pool, settings):
    await seed(pool, settings)
    body = await get_json(api, "/apis/v2beta1/runs")
    assert names(body) == [f"wf-{i:02d}" for i in range(12)] and body["total_size"] == 12
    assert "next_page_token" not in body
    run = body["runs"][4]
    assert run["run_id"] == "kfp-wf-04" and run["storage_state"] == "AVAILABLE" and run["state"] == "FAILED"
    assert run["runtime_config"] == {"parameters": {"lr": "0.1"}}
    assert run["created_at"] == "2026-01-01T00:04:00Z" == run["scheduled_at"]
    assert run["finished_at"] == "2026-01-01T00:04:30Z"
    assert [h["state"] for h in run["state_history"]] == ["FAILED"]
    # What runledger does not record is left out, as KFP's gateway leaves out unpopulated fields.
    for absent in ("experiment_id", "description", "pipeline_version_id", "pipeline_spec", "service_account",
                   "recurring_run_id", "error", "run_details"):  # fmt: skip
        assert absent not in run


async def test_v1_lists_runs_as_api_runs(api, pool, settings):
    await seed(pool, settings)
    body = await get_json(api, "/apis/v1beta1/runs?sort_by=created_at%20desc&page_size=3")
    assert names(body) == ["wf-11", "wf-10", "wf-09"] and body["total_size"] == 12 and body["next_page_token"]
    run = body["runs"][0]
    assert run["id"] == "kfp-wf-11" and run["status"] == "Succeeded" and run["storage_state"] == "STORAGESTATE_AVAILABLE"
    assert run["pipeline_spec"] == {"pipeline_name": "train", "parameters": [{"name": "lr", "value": "0.1"}]}
    assert run["resource_references"] == [{"key": {"type": "NAMESPACE", "id": "team-a"}, "relationship": "OWNER"}]
    assert run["created_at"] == "2026-01-01T00:11:00Z" and run["finished_at"] == "2026-01-01T00:11:30Z"
    assert "metrics" not in run  # none reported


async def test_an_empty_listing_is_an_empty_object_like_kfp(api):
    assert await get_json(api, "/apis/v2beta1/runs") == {}
    assert await get_json(api, "/apis/v1beta1/runs") == {}


async def test_namespace_selects_runs_in_v2_and_through_v1_resource_references(api, pool, settings):
    await seed(pool, settings)
    odd = [f"wf-{i:02d}" for i in range(12) if i % 2]
    assert names(await get_json(api, "/apis/v2beta1/runs?namespace=team-a")) == odd
    v1 = await get_json(api, "/apis/v1beta1/runs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-a")
    assert names(v1) == odd and v1["total_size"] == 6


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        ("", list(range(12))),
        ("created_at", list(range(12))),
        ("created_at desc", list(reversed(range(12)))),
        ("CREATED_AT DESC", list(reversed(range(12)))),
        ("name", list(range(12))),
        ("display_name desc", list(reversed(range(12)))),
        ("finished_at desc", list(reversed(range(12)))),
        ("run_id desc", list(reversed(range(12)))),
        ("id", list(range(12))),
        ("scheduled_at desc", list(reversed(range(12)))),
    ],
)
async def test_sort_by_orders_every_page(api, pool, settings, sort_by, expected):
    await seed(pool, settings)
    for version in ("v1beta1", "v2beta1"):
        assert await walk(api, f"/apis/{version}/runs?page_size=5&sort_by={quote(sort_by)}") == [f"wf-{i:02d}" for i in expected]


async def test_pages_neither_repeat_nor_skip_runs_arriving_meanwhile(api, pool, settings):
    await seed(pool, settings)
    first = await get_json(api, "/apis/v2beta1/runs?page_size=4&sort_by=created_at%20desc")
    assert names(first) == ["wf-11", "wf-10", "wf-09", "wf-08"]
    newer = workflow(59)
    await ingest(pool, settings, [newer.event("ADDED")])
    second = await get_json(api, f"/apis/v2beta1/runs?page_size=4&sort_by=created_at%20desc&page_token={first['next_page_token']}")
    assert names(second) == ["wf-07", "wf-06", "wf-05", "wf-04"] and second["total_size"] == 13


async def test_a_page_token_carries_its_query_when_sent_alone(api, pool, settings):
    await seed(pool, settings)
    path = f"/apis/v2beta1/runs?page_size=2&sort_by=name%20desc&namespace=team-b&filter={v2_filter({'key': 'state', 'operation': 'EQUALS', 'string_value': 'SUCCEEDED'})}"
    expected = ["wf-10", "wf-06", "wf-02"]
    assert await walk(api, path, repeat_query=True) == expected
    assert await walk(api, path, repeat_query=False) == expected


@pytest.mark.parametrize(
    "other",
    ["sort_by=name", "namespace=team-a", f"filter={v2_filter({'key': 'name', 'operation': 'EQUALS', 'string_value': 'wf-01'})}"],
)
async def test_a_page_token_sent_with_another_query_is_refused(api, pool, settings, other):
    await seed(pool, settings)
    token = (await get_json(api, "/apis/v2beta1/runs?page_size=2&namespace=team-b"))["next_page_token"]
    body = await get_json(api, f"/apis/v2beta1/runs?page_size=2&page_token={token}&{other}", status=400)
    assert "different query" in body["message"]


async def test_a_v1_page_token_is_refused_by_v2(api, pool, settings):
    await seed(pool, settings)
    token = (await get_json(api, "/apis/v1beta1/runs?page_size=2"))["next_page_token"]
    await get_json(api, f"/apis/v2beta1/runs?page_token={token}", status=400)


async def test_page_size_defaults_to_20_and_is_capped_at_200_like_kfp(api, pool, settings):
    events = []
    for i in range(205):
        wf = WorkflowBuilder(name=f"bulk-{i:03d}")
        wf.obj["metadata"]["creationTimestamp"] = f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00Z"
        events.append(wf.event("ADDED"))
    await ingest(pool, settings, events)
    assert len((await get_json(api, "/apis/v2beta1/runs"))["runs"]) == 20
    assert len((await get_json(api, "/apis/v2beta1/runs?page_size=0"))["runs"]) == 20
    capped = await get_json(api, "/apis/v2beta1/runs?page_size=201")
    assert len(capped["runs"]) == 200 and capped["total_size"] == 205 and capped["next_page_token"]
    rest = await get_json(api, f"/apis/v2beta1/runs?page_size=201&page_token={capped['next_page_token']}")
    assert names(rest) == [f"bulk-{i:03d}" for i in range(200, 205)]


async def test_unfinished_runs_sort_as_kfp_finish_time_zero(api, pool, settings):
    await seed(pool, settings, n=3)
    running = WorkflowBuilder(name="wf-running")
    running.obj["metadata"]["creationTimestamp"] = "2026-01-01T00:30:00Z"
    await ingest(pool, settings, [running.phase("Running").event("ADDED")])
    assert await walk(api, "/apis/v2beta1/runs?page_size=1&sort_by=finished_at%20desc") == ["wf-02", "wf-01", "wf-00", "wf-running"]
    assert await walk(api, "/apis/v2beta1/runs?page_size=1&sort_by=finished_at") == ["wf-running", "wf-00", "wf-01", "wf-02"]
    running_run = (await get_json(api, "/apis/v2beta1/runs?sort_by=finished_at&page_size=1"))["runs"][0]
    assert "finished_at" not in running_run and running_run["state"] == "RUNNING"


# --- filters --------------------------------------------------------------------------------------

ALL = set(range(12))


def ts(minute: int) -> str:
    return f"2026-01-01T00:{minute:02d}:00Z"


@pytest.mark.parametrize(
    ("predicates", "expected"),
    [
        ([{"key": "display_name", "operation": "EQUALS", "string_value": "wf-03"}], {3}),
        ([{"key": "name", "operation": "NOT_EQUALS", "string_value": "wf-03"}], ALL - {3}),
        ([{"key": "display_name", "operation": "IS_SUBSTRING", "string_value": "-1"}], {10, 11}),
        ([{"key": "display_name", "operation": "IS_SUBSTRING", "string_value": "wf-_"}], set()),  # no LIKE wildcards
        ([{"key": "display_name", "operation": "IN", "string_values": {"values": ["wf-01", "wf-02", "nope"]}}], {1, 2}),
        ([{"key": "display_name", "operation": "GREATER_THAN", "string_value": "wf-09"}], {10, 11}),
        ([{"key": "created_at", "operation": "GREATER_THAN", "timestamp_value": ts(9)}], {10, 11}),
        ([{"key": "created_at", "operation": "GREATER_THAN_EQUALS", "timestamp_value": ts(9)}], {9, 10, 11}),
        ([{"key": "created_at", "operation": "LESS_THAN", "timestamp_value": ts(2)}], {0, 1}),
        ([{"key": "created_at", "operation": "LESS_THAN_EQUALS", "timestamp_value": "2026-01-01T01:02:00+01:00"}], {0, 1, 2}),
        ([{"key": "created_at", "operation": "EQUALS", "long_value": str(EPOCH_0000 + 300)}], {5}),
        ([{"key": "created_at", "operation": "EQUALS", "int_value": EPOCH_0000 + 360}], {6}),
        ([{"key": "created_at", "operation": "IN", "long_values": {"values": [str(EPOCH_0000), EPOCH_0000 + 60]}}], {0, 1}),
        ([{"key": "finished_at", "operation": "LESS_THAN", "timestamp_value": "2026-01-01T00:01:00Z"}], {0}),
        ([{"key": "scheduled_at", "operation": "GREATER_THAN_EQUALS", "timestamp_value": ts(11)}], {11}),
        ([{"key": "state", "operation": "EQUALS", "string_value": "FAILED"}], {0, 4, 8}),
        ([{"key": "state", "operation": "NOT_EQUALS", "string_value": "FAILED"}], ALL - {0, 4, 8}),
        ([{"key": "state", "operation": "IN", "string_values": {"values": ["SUCCEEDED", "RUNNING"]}}], ALL - {0, 4, 8}),
        ([{"key": "status", "operation": "EQUALS", "string_value": "Failed"}], {0, 4, 8}),
        ([{"key": "run_id", "operation": "EQUALS", "string_value": "kfp-wf-07"}], {7}),
        ([{"key": "id", "operation": "IN", "string_values": {"values": ["kfp-wf-07", "kfp-wf-08"]}}], {7, 8}),
        ([{"key": "namespace", "operation": "EQUALS", "string_value": "team-a"}], {i for i in ALL if i % 2}),
        ([{"key": "storage_state", "operation": "NOT_EQUALS", "string_value": "ARCHIVED"}], ALL),
        ([{"key": "storage_state", "operation": "EQUALS", "string_value": "ARCHIVED"}], set()),
        ([{"key": "pipeline_name", "operation": "EQUALS", "string_value": "etl"}], {0, 3, 6, 9}),
        # Every predicate AND-ed.
        ([{"key": "namespace", "operation": "EQUALS", "string_value": "team-b"},
          {"key": "state", "operation": "EQUALS", "string_value": "FAILED"},
          {"key": "created_at", "operation": "GREATER_THAN", "timestamp_value": ts(3)}], {4, 8}),  # fmt: skip
        # protojson also reads JSON (lowerCamel) field names and enum numbers.
        ([{"key": "display_name", "operation": 1, "stringValue": "wf-03"}], {3}),
        ([{"key": "display_name", "operation": "IN", "stringValues": {"values": ["wf-04"]}}], {4}),
        ([], ALL),
    ],
)
async def test_v2_filters_select_exactly_the_matching_runs(api, pool, settings, predicates, expected):
    await seed(pool, settings)
    body = await get_json(api, f"/apis/v2beta1/runs?page_size=100&filter={v2_filter(*predicates)}")
    assert set(names(body)) == {f"wf-{i:02d}" for i in expected}
    assert body.get("total_size", 0) == len(expected)


async def test_a_filter_double_url_encoded_as_the_kfp_ui_sends_it_is_read(api, pool, settings):
    await seed(pool, settings)
    encoded = v2_filter({"key": "display_name", "operation": "EQUALS", "string_value": "wf-03"})
    assert names(await get_json(api, f"/apis/v2beta1/runs?filter={quote(encoded)}")) == ["wf-03"]


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ({"key": "name", "op": "EQUALS", "string_value": "wf-03"}, {3}),
        ({"key": "status", "op": "NOT_EQUALS", "string_value": "Succeeded"}, {0, 4, 8}),
        ({"key": "storage_state", "op": "NOT_EQUALS", "string_value": "STORAGESTATE_ARCHIVED"}, ALL),
        ({"key": "created_at", "op": "LESS_THAN", "timestamp_value": ts(1)}, {0}),
        ({"key": "name", "op": 9, "string_value": "wf-1"}, {10, 11}),
    ],
)
async def test_v1_filters_use_the_v1_predicate_shape(api, pool, settings, predicate, expected):
    await seed(pool, settings)
    body = await get_json(api, f"/apis/v1beta1/runs?page_size=100&filter={quote(json.dumps({'predicates': [predicate]}))}")
    assert set(names(body)) == {f"wf-{i:02d}" for i in expected}


@pytest.mark.parametrize(
    ("version", "query", "says"),
    [
        ("v2beta1", "filter=%7Bnot-json", "not a JSON"),
        ("v2beta1", "filter=%5B%5D", "JSON object"),
        ("v2beta1", f"filter={v2_filter({'key': 'color', 'operation': 'EQUALS', 'string_value': 'x'})}", "unknown filter key"),
        ("v2beta1", f"filter={v2_filter({'key': 'experiment_id', 'operation': 'EQUALS', 'string_value': 'x'})}", "unsupported filter key"),
        ("v2beta1", f"filter={v2_filter({'key': 'pipeline_version_id', 'operation': 'EQUALS', 'string_value': 'x'})}", "unsupported filter key"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'op': 'EQUALS', 'string_value': 'x'})}", "unknown field 'op'"),
        ("v1beta1", f"filter={v2_filter({'key': 'name', 'operation': 'EQUALS', 'string_value': 'x'})}", "unknown field 'operation'"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'operation': 'SIMILAR', 'string_value': 'x'})}", "bad filter operation"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'operation': 0, 'string_value': 'x'})}", "bad filter operation"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'operation': 'EQUALS', 'int_value': 3})}", "takes string_value"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'operation': 'EQUALS'})}", "exactly one value"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'operation': 'EQUALS', 'string_value': 'a', 'stringValue': 'b'})}", "twice"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'operation': 'IN', 'string_value': 'x'})}", "IN takes"),
        ("v2beta1", f"filter={v2_filter({'key': 'name', 'operation': 'EQUALS', 'string_values': {'values': ['x']}})}", "only for IN"),
        ("v2beta1", f"filter={v2_filter({'key': 'created_at', 'operation': 'IS_SUBSTRING', 'timestamp_value': ts(1)})}", "IS_SUBSTRING"),
        ("v2beta1", f"filter={v2_filter({'key': 'created_at', 'operation': 'EQUALS', 'timestamp_value': 'yesterday'})}", "RFC 3339"),
        ("v2beta1", f"filter={v2_filter({'key': 'created_at', 'operation': 'EQUALS', 'string_value': ts(1)})}", "is a time"),
        ("v2beta1", f"filter={v2_filter({'key': 'created_at', 'operation': 'EQUALS', 'int_value': 2**40})}", "in range"),
        ("v2beta1", "sort_by=color", "unsupported sort_by"),
        ("v2beta1", "sort_by=name%20sideways", "bad sort_by"),
        ("v2beta1", "page_size=-1", "page_size"),
        ("v2beta1", "page_size=lots", "page_size"),
        ("v2beta1", "page_token=%25%25%25", "page_token"),
        ("v2beta1", "page_token=eyJmIjoxfQ", "page_token"),
        ("v2beta1", "experiment_id=e1", "experiment"),
        ("v2beta1", "bogus=1", "unknown parameter"),
        ("v2beta1", "namespace=a&namespace=b", "more than once"),
        ("v1beta1", "resource_reference_key.type=EXPERIMENT&resource_reference_key.id=e1", "NAMESPACE only"),
        ("v1beta1", "resource_reference_key.type=NAMESPACE", "is required"),
    ],
)
async def test_bad_requests_are_400_in_kfp_error_shape(api, version, query, says):
    body = await get_json(api, f"/apis/{version}/runs?{query}", status=400)
    assert set(body) == {"error", "code", "message", "details"}
    assert body["code"] == 3 and body["details"] == [] and body["error"] == body["message"]
    assert says in body["message"]


async def test_filter_values_are_bound_never_spliced_into_sql(api, pool, settings):
    await seed(pool, settings, n=2)
    hostile = "x' OR '1'='1"
    body = await get_json(api, f"/apis/v2beta1/runs?filter={v2_filter({'key': 'name', 'operation': 'NOT_EQUALS', 'string_value': hostile})}")
    assert set(names(body)) == {"wf-00", "wf-01"}
    body = await get_json(api, f"/apis/v2beta1/runs?filter={v2_filter({'key': 'name', 'operation': 'EQUALS', 'string_value': hostile})}")
    assert body == {}


# --- one run --------------------------------------------------------------------------------------


async def test_a_run_is_found_by_its_kfp_run_id_or_its_workflow_uid(api, pool, settings):
    await ingest(pool, settings, [workflow(1).event("ADDED"), workflow(2, kfp_id=False).event("ADDED")])
    for version, id_field in (("v2beta1", "run_id"), ("v1beta1", "id")):
        by_kfp_id = await get_json(api, f"/apis/{version}/runs/kfp-wf-01")
        by_uid = await get_json(api, f"/apis/{version}/runs/uid-wf-01")
        assert by_kfp_id == by_uid
        run = by_kfp_id if version == "v2beta1" else by_kfp_id["run"]
        assert run[id_field] == "kfp-wf-01"
        unlabelled = await get_json(api, f"/apis/{version}/runs/uid-wf-02")
        assert (unlabelled if version == "v2beta1" else unlabelled["run"])[id_field] == "uid-wf-02"


@pytest.mark.parametrize("path", ["/apis/v2beta1/runs/nope", "/apis/v1beta1/runs/nope"])
async def test_unknown_runs_are_404_in_kfp_error_shape(api, path):
    body = await get_json(api, path, status=404)
    assert body["code"] == 5 and "nope" in body["message"] and body["details"] == []


@pytest.mark.parametrize(
    ("phase", "message", "state", "status"),
    [
        ("", None, "PENDING", "Pending"),
        ("Pending", None, "PENDING", "Pending"),
        ("Running", None, "RUNNING", "Running"),
        ("Succeeded", None, "SUCCEEDED", "Succeeded"),
        ("Failed", "child 'train' failed", "FAILED", "Failed"),
        ("Error", "pod deleted", "FAILED", "Error"),
        ("Failed", "Stopped with strategy 'Terminate'", "CANCELED", "Failed"),
        ("Failed", "Stopped with strategy 'Stop'", "CANCELED", "Failed"),
        ("Error", "workflow shutdown with strategy:  Terminate", "CANCELED", "Error"),
        ("Weird", None, "RUNTIME_STATE_UNSPECIFIED", "Weird"),
    ],
)
async def test_every_argo_phase_maps_to_a_kfp_state_in_responses_and_filters(api, pool, settings, phase, message, state, status):
    wf = WorkflowBuilder(name="wf")
    wf.obj["status"]["phase"] = phase
    if message:
        wf.obj["status"]["message"] = message
    other = WorkflowBuilder(name="other").phase("Succeeded")
    await ingest(pool, settings, [wf.event("ADDED"), other.event("ADDED")])
    v2 = await get_json(api, "/apis/v2beta1/runs/kfp-wf")
    v1 = await get_json(api, "/apis/v1beta1/runs/kfp-wf")
    assert v2["state"] == state and v1["run"]["status"] == status
    by_state = await get_json(api, f"/apis/v2beta1/runs?filter={v2_filter({'key': 'state', 'operation': 'EQUALS', 'string_value': state})}")
    by_status = await get_json(api, f"/apis/v1beta1/runs?filter={quote(json.dumps({'predicates': [{'key': 'status', 'op': 'EQUALS', 'string_value': status}]}))}")
    assert "wf" in names(by_state) and "wf" in names(by_status)
    if state in ("FAILED", "CANCELED"):
        assert v2["state_history"][-1]["error"]["message"] == message


@pytest.mark.parametrize(
    ("phase", "shutdown", "message", "state", "status"),
    [
        ("", "Terminate", None, "CANCELING", "Terminating"),
        ("Pending", "Stop", None, "CANCELING", "Terminating"),
        ("Running", "Terminate", None, "CANCELING", "Terminating"),
        ("Running", "Pause", None, "CANCELING", "Terminating"),  # Argo stops a workflow at any non-empty value
        ("Failed", "Terminate", "Stopped with strategy 'Terminate'", "CANCELED", "Failed"),
        ("Failed", "Stop", "child 'exit-handler' failed", "CANCELED", "Failed"),  # stopped, whatever the message says
        ("Error", "Terminate", None, "CANCELED", "Error"),
        ("Failed", "Pause", "child 'train' failed", "FAILED", "Failed"),
        ("Succeeded", "Stop", None, "SUCCEEDED", "Succeeded"),  # asked after it had finished
    ],
)
async def test_a_run_asked_to_stop_maps_to_a_kfp_state_in_responses_and_filters(
    api, pool, settings, phase, shutdown, message, state, status
):
    wf = WorkflowBuilder(name="wf")
    wf.obj["status"]["phase"] = phase
    wf.obj["spec"]["shutdown"] = shutdown
    if message:
        wf.obj["status"]["message"] = message
    other = WorkflowBuilder(name="other").phase("Running")
    await ingest(pool, settings, [wf.event("ADDED"), other.event("ADDED")])
    v2 = await get_json(api, "/apis/v2beta1/runs/kfp-wf")
    v1 = await get_json(api, "/apis/v1beta1/runs/kfp-wf")
    assert v2["state"] == state and v1["run"]["status"] == status
    by_state = await get_json(api, f"/apis/v2beta1/runs?filter={v2_filter({'key': 'state', 'operation': 'EQUALS', 'string_value': state})}")
    by_status = await get_json(api, f"/apis/v1beta1/runs?filter={quote(json.dumps({'predicates': [{'key': 'status', 'op': 'EQUALS', 'string_value': status}]}))}")
    assert names(by_state) == ["wf"] and names(by_status) == ["wf"]
    assert json.loads(v1["pipeline_runtime"]["workflow_manifest"])["spec"]["shutdown"] == shutdown


async def test_a_terminated_run_lists_as_canceling_until_argo_has_stopped_it_then_as_canceled(api, pool, settings):
    wf = WorkflowBuilder(name="wf").phase("Running", at="2026-01-01T00:00:05Z")
    await ingest(pool, settings, [wf.event("ADDED")])
    wf.obj["spec"]["shutdown"] = "Terminate"  # argo terminate: the phase stays Running until the pods are gone
    await ingest(pool, settings, [wf.event()])
    (listed,) = (await get_json(api, "/apis/v2beta1/runs"))["runs"]
    run = await get_json(api, "/apis/v2beta1/runs/kfp-wf")
    assert listed["state"] == run["state"] == "CANCELING"
    # When the stop was asked is not known: the history says what the phases say, as KFP's does.
    assert [h["state"] for h in run["state_history"]] == ["RUNNING"]

    wf.obj["status"]["message"] = "Stopped with strategy 'Terminate'"
    await ingest(pool, settings, [wf.phase("Failed", at="2026-01-01T00:01:00Z").event()])
    (listed,) = (await get_json(api, "/apis/v2beta1/runs"))["runs"]
    run = await get_json(api, "/apis/v2beta1/runs/kfp-wf")
    assert listed["state"] == run["state"] == "CANCELED" and run["finished_at"] == "2026-01-01T00:01:00Z"
    assert [h["state"] for h in run["state_history"]] == ["RUNNING", "CANCELED"]
    assert run["state_history"][-1]["update_time"] == "2026-01-01T00:01:00Z"


async def test_state_history_follows_the_runs_transitions(api, pool, settings):
    wf = WorkflowBuilder(name="wf")
    await ingest(pool, settings, [wf.event("ADDED")])
    await ingest(pool, settings, [wf.phase("Running", at="2026-01-01T00:00:05Z").event()])
    wf.obj["status"]["message"] = "child failed"
    await ingest(pool, settings, [wf.phase("Failed", at="2026-01-01T00:01:00Z").event()])
    run = await get_json(api, "/apis/v2beta1/runs/kfp-wf")
    assert [h["state"] for h in run["state_history"]] == ["PENDING", "RUNNING", "FAILED"]
    assert run["state_history"][1]["update_time"] == "2026-01-01T00:00:05Z"
    assert run["state_history"][-1]["error"] == {"code": 2, "message": "child failed"}
    assert "error" not in run["state_history"][0]


async def test_v2_run_details_list_every_node_as_a_task(api, pool, settings):
    wf = workflow(1)
    wf.node("eval", "Failed", parent="train", boundaryID="root", message="exit code 1")
    await ingest(pool, settings, [wf.event("ADDED")])
    run = await get_json(api, "/apis/v2beta1/runs/kfp-wf-01")
    tasks = {t["task_id"]: t for t in run["run_details"]["task_details"]}
    assert set(tasks) == {"root", "train", "eval"}
    assert tasks["eval"]["state"] == "FAILED" and tasks["eval"]["error"]["message"] == "exit code 1"
    assert tasks["eval"]["parent_task_id"] == "root" and tasks["eval"]["run_id"] == "kfp-wf-01"
    assert [c["task_id"] for c in tasks["train"]["child_tasks"]] == ["eval"] and tasks["train"]["pod_name"]
    assert tasks["train"]["display_name"] == "wf-01.train" and tasks["train"]["start_time"] == "2026-01-01T00:00:10Z"


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_every_real_fixture_reads_back_through_both_apis(api, pool, settings, path):
    obj = load(path)
    await ingest(pool, settings, [{"type": "ADDED", "object": obj}])
    recorded = translate_workflow(obj).run
    run_id = recorded.id
    v2 = await get_json(api, f"/apis/v2beta1/runs/{run_id}")
    detail = await get_json(api, f"/apis/v1beta1/runs/{run_id}")
    nodes = raw_nodes(obj)
    assert len((v2.get("run_details") or {}).get("task_details") or []) == len(nodes)
    manifest = json.loads(detail["pipeline_runtime"]["workflow_manifest"])
    assert manifest["kind"] == "Workflow" and manifest["metadata"]["name"] == recorded.name
    assert manifest["status"].get("phase") == (obj.get("status") or {}).get("phase")
    rebuilt = manifest["status"].get("nodes", {})
    assert len(rebuilt) == len(nodes)
    for key, raw in nodes.items():
        node = rebuilt[raw.get("id") or key]
        for field in ("type", "phase", "boundaryID", "startedAt", "finishedAt"):
            assert node.get(field) == (as_text(raw.get(field)) or None), (key, field)
        assert node.get("templateName") == (raw.get("templateName") or (raw.get("templateRef") or {}).get("template"))
        assert set(node.get("children", [])) == set(raw.get("children") or [])
        assert node["displayName"] == (raw.get("displayName") or node["displayName"])
        for io in ("inputs", "outputs"):
            for kind in ("parameters", "artifacts"):
                expected = {a["name"] for a in (raw.get(io) or {}).get(kind) or []}
                assert {a["name"] for a in (node.get(io) or {}).get(kind, [])} == expected, (key, io, kind)


def as_text(value):
    """YAML fixtures hold times as datetimes; Argo writes them as RFC 3339 seconds."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else value


async def test_all_real_fixtures_list_with_their_total(api, pool, settings):
    files = fixture_files()
    await ingest(pool, settings, [{"type": "ADDED", "object": load(p)} for p in files])
    body = await get_json(api, "/apis/v2beta1/runs?page_size=200")
    assert body["total_size"] == len(files) == len(body["runs"])
    retry = next(r for r in body["runs"] if r["display_name"] == "retry-random-failures-p9snt")
    assert retry["run_id"] == "2f9a3d50-454c-4979-be8d-f222bc245bc1" and retry["state"] == "SUCCEEDED"
    scheduled = next(r for r in body["runs"] if r["display_name"] == "job-cloneofhelloworldls94q-1-3667110102")
    assert scheduled["scheduled_at"] == "2018-10-23T05:55:57Z"  # label scheduledworkflows.kubeflow.org/workflowEpoch


async def test_v1_workflow_manifest_carries_node_artifacts_with_their_s3_location(api, pool, settings):
    path = next(p for p in fixture_files() if p.name == "mock-retry-runtime.json")
    obj = load(path)
    await ingest(pool, settings, [{"type": "ADDED", "object": obj}])
    detail = await get_json(api, "/apis/v1beta1/runs/2f9a3d50-454c-4979-be8d-f222bc245bc1")
    manifest = json.loads(detail["pipeline_runtime"]["workflow_manifest"])
    raw = {(n["id"], a["name"]): a for n in raw_nodes(obj).values() for a in (n.get("outputs") or {}).get("artifacts") or []}
    assert raw
    for (node_id, name), art in raw.items():
        (rebuilt,) = [a for a in manifest["status"]["nodes"][node_id]["outputs"]["artifacts"] if a["name"] == name]
        assert rebuilt["s3"]["key"] == art["s3"]["key"] and rebuilt["s3"]["bucket"] == art["s3"]["bucket"]
    assert manifest["metadata"]["labels"]["pipeline/runid"] == "2f9a3d50-454c-4979-be8d-f222bc245bc1"


# --- metrics --------------------------------------------------------------------------------------

ACCURACY = {"r1": 0.91, "r2": 0.72, "r3": 0.95}


@pytest.fixture
async def metrics_api(pool, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path)
    events = []
    for run, accuracy in ACCURACY.items():
        document = {"metrics": [{"name": "accuracy", "numberValue": accuracy}, {"name": "loss", "numberValue": 0, "format": "PERCENTAGE"}]}
        await s3_objects.put("mlpipeline", f"runs/{run}/metrics.tgz", argo_tgz("m.json", json.dumps(document).encode()))
        events.append(kfp_step_workflow(run, {"mlpipeline-metrics": f"runs/{run}/metrics.tgz"}))
    events.append(WorkflowBuilder(name="no-metrics").phase("Succeeded").event("ADDED"))
    await ingest(pool, settings, events)
    await index_everything(pool, settings)
    async with serve(settings=settings, pool=pool) as session:
        yield session


async def test_v1_run_detail_and_listing_carry_the_runs_metrics(metrics_api):
    detail = await get_json(metrics_api, "/apis/v1beta1/runs/uid-r3")
    assert detail["run"]["metrics"] == [
        {"name": "accuracy", "node_id": "r3-train", "number_value": 0.95, "format": "RAW"},
        {"name": "loss", "node_id": "r3-train", "number_value": 0.0, "format": "PERCENTAGE"},
    ]
    listed = {r["id"]: r for r in (await get_json(metrics_api, "/apis/v1beta1/runs"))["runs"]}
    assert listed["kfp-r3"]["metrics"] == detail["run"]["metrics"]
    assert "metrics" not in listed["kfp-no-metrics"]


async def test_runs_sort_by_a_metric_with_runs_lacking_it_last_descending(metrics_api):
    assert await walk(metrics_api, "/apis/v1beta1/runs?page_size=1&sort_by=metric:accuracy%20desc") == ["r3", "r1", "r2", "no-metrics"]
    assert await walk(metrics_api, "/apis/v2beta1/runs?page_size=3&sort_by=metric:accuracy", repeat_query=False) == ["no-metrics", "r2", "r1", "r3"]
