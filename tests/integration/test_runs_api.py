"""The run history API over real HTTP: listing, filters, keyset pages, detail, steps, timeline, errors."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest


@pytest.fixture
async def api(pool, settings):
    async with serve(settings=settings, pool=pool) as client:
        yield client


async def seed(pool, settings, n=12):
    events = []
    for i in range(n):
        wf = WorkflowBuilder(name=f"wf-{i:02d}", namespace="team-a" if i % 2 else "team-b")
        wf.obj["metadata"]["creationTimestamp"] = f"2026-01-01T00:{i:02d}:00Z"
        wf.obj["metadata"]["annotations"] = {"pipelines.kubeflow.org/pipeline_spec": '{"name": "%s"}' % ("train" if i % 3 else "etl")}
        wf.phase("Failed" if i % 4 == 0 else "Succeeded").node("root", "Succeeded", type="DAG")
        wf.node("a", "Succeeded", parent="root", outputs={"parameters": [{"name": "acc", "value": "0.9"}],
                "artifacts": [{"name": "model", "s3": {"bucket": "b", "key": f"models/{i}"}}]})  # fmt: skip
        events.append(wf.event("ADDED"))
    await ingest(pool, settings, events)


async def get_json(api, path, status=200):
    async with api.get(path) as resp:
        assert resp.status == status, await resp.text()
        assert resp.content_type == "application/json"
        return await resp.json()


async def test_runs_are_listed_newest_first_with_their_parameters_and_step_counts(api, pool, settings):
    await seed(pool, settings)
    body = await get_json(api, "/api/v1/runs")
    names = [r["name"] for r in body["runs"]]
    assert names == [f"wf-{i:02d}" for i in reversed(range(12))]
    first = body["runs"][0]
    assert first["parameters"] == {"lr": "0.1"} and first["step_counts"] == {"Succeeded": 2}
    assert first["created_at"] == "2026-01-01T00:11:00Z" and first["deleted"] is False
    assert first["kfp_run_id"] == "kfp-wf-11" and first["pipeline_name"] == "train"
    assert body["next_page_token"] is None


async def test_keyset_pages_walk_the_whole_history_without_gaps_or_repeats(api, pool, settings):
    await seed(pool, settings)
    seen, token = [], None
    while True:
        body = await get_json(api, "/api/v1/runs?limit=5" + (f"&page_token={token}" if token else ""))
        seen += [r["name"] for r in body["runs"]]
        token = body["next_page_token"]
        if token is None:
            break
    assert seen == [f"wf-{i:02d}" for i in reversed(range(12))]


async def test_runs_arriving_between_pages_do_not_shift_later_pages(api, pool, settings):
    await seed(pool, settings)
    first = await get_json(api, "/api/v1/runs?limit=4")
    newer = WorkflowBuilder(name="wf-new")
    newer.obj["metadata"]["creationTimestamp"] = "2026-02-01T00:00:00Z"
    await ingest(pool, settings, [newer.event("ADDED")])
    second = await get_json(api, f"/api/v1/runs?limit=4&page_token={first['next_page_token']}")
    assert [r["name"] for r in second["runs"]] == ["wf-07", "wf-06", "wf-05", "wf-04"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("namespace=team-a", {f"wf-{i:02d}" for i in range(12) if i % 2}),
        ("phase=Failed", {"wf-00", "wf-04", "wf-08"}),
        ("pipeline=etl", {"wf-00", "wf-03", "wf-06", "wf-09"}),
        ("kfp_run_id=kfp-wf-05", {"wf-05"}),
        ("created_after=2026-01-01T00:10:00Z", {"wf-10", "wf-11"}),
        ("created_before=2026-01-01T00:02:00Z", {"wf-00", "wf-01"}),
        ("namespace=team-b&phase=Failed", {"wf-00", "wf-04", "wf-08"}),
    ],
)
async def test_filters_select_exactly_the_matching_runs(api, pool, settings, query, expected):
    await seed(pool, settings)
    body = await get_json(api, f"/api/v1/runs?{query}")
    assert {r["name"] for r in body["runs"]} == expected


async def test_run_detail_has_parameters_and_step_counts(api, pool, settings):
    await seed(pool, settings, n=1)
    (run,) = (await get_json(api, "/api/v1/runs"))["runs"]
    detail = await get_json(api, f"/api/v1/runs/{run['id']}")
    assert detail["id"] == run["id"] and detail["parameters"] == {"lr": "0.1"}
    assert detail["step_counts"] == {"Succeeded": 2}


async def test_a_run_says_which_stop_was_asked_of_it_once_asked(api, pool, settings):
    wf = WorkflowBuilder(name="wf").phase("Running")
    await ingest(pool, settings, [wf.event("ADDED")])
    assert (await get_json(api, "/api/v1/runs/uid-wf"))["shutdown"] is None
    wf.obj["spec"]["shutdown"] = "Stop"  # the only change: still a change to record
    await ingest(pool, settings, [wf.event()])
    detail = await get_json(api, "/api/v1/runs/uid-wf")
    (listed,) = (await get_json(api, "/api/v1/runs"))["runs"]
    assert detail["shutdown"] == listed["shutdown"] == "Stop" and detail["phase"] == "Running"


async def test_steps_carry_parents_children_parameters_and_artifacts(api, pool, settings):
    await seed(pool, settings, n=1)
    (run,) = (await get_json(api, "/api/v1/runs"))["runs"]
    steps = {s["id"]: s for s in (await get_json(api, f"/api/v1/runs/{run['id']}/steps"))["steps"]}
    assert steps["root"]["children"] == ["a"] and steps["a"]["parents"] == ["root"]
    assert steps["a"]["outputs"]["parameters"] == [{"name": "acc", "value": "0.9", "truncated": False}]
    (art,) = steps["a"]["outputs"]["artifacts"]
    assert art["uri"] == "s3://b/models/0" and art["name"] == "model"
    assert steps["a"]["type"] == "Pod" and steps["a"]["pod_name"]


async def test_timeline_lists_transitions_in_time_order(api, pool, settings):
    wf = WorkflowBuilder()
    await ingest(pool, settings, [wf.event("ADDED")])
    await ingest(pool, settings, [wf.phase("Running", at="2026-01-01T00:00:05Z").event()])
    await ingest(pool, settings, [wf.phase("Succeeded", at="2026-01-01T00:01:00Z").event()])
    (run,) = (await get_json(api, "/api/v1/runs"))["runs"]
    body = await get_json(api, f"/api/v1/runs/{run['id']}/timeline")
    assert [(t["from_phase"], t["to_phase"]) for t in body["transitions"]] == [
        (None, "Pending"), ("Pending", "Running"), ("Running", "Succeeded")]  # fmt: skip
    times = [datetime.fromisoformat(t["at"]) for t in body["transitions"]]
    assert times == sorted(times)


@pytest.mark.parametrize("path", ["/api/v1/runs/nope", "/api/v1/runs/nope/steps", "/api/v1/runs/nope/timeline"])
async def test_unknown_runs_are_404_with_an_error_body(api, path):
    body = await get_json(api, path, status=404)
    assert body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "limit=abc", "created_after=yesterday", "page_token=%%%", "page_token=eyJmIjoxfQ",
     "bogus=1", "deleted=maybe", "phase=a&phase=b"],
)
async def test_bad_parameters_are_400_with_a_clear_message(api, query):
    body = await get_json(api, f"/api/v1/runs?{query}", status=400)
    assert body["error"]["code"] == "bad_request" and body["error"]["message"]


async def test_a_page_token_from_another_query_is_refused(api, pool, settings):
    await seed(pool, settings)
    token = (await get_json(api, "/api/v1/runs?limit=2&namespace=team-a"))["next_page_token"]
    body = await get_json(api, f"/api/v1/runs?limit=2&namespace=team-b&page_token={token}", status=400)
    assert "different query" in body["error"]["message"]


async def test_health_and_readiness_report_ok_when_migrated(api):
    assert (await get_json(api, "/healthz"))["status"] == "ok"
    ready = await get_json(api, "/readyz")
    assert ready["checks"] == {"database": "ok", "migrations": "ok"}


async def test_readiness_is_503_while_migrations_are_pending(empty_dsn, settings):
    async with serve(settings=settings, dsn=empty_dsn) as api:
        body = await get_json(api, "/readyz", status=503)
        assert body["status"] == "unavailable"
