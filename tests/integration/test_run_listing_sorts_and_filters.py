"""Every sort of GET /api/v1/runs pages through the whole history in the right order, and every
filter selects exactly the runs it should — checked against orders computed here from the data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def spec(i: int) -> dict:
    """Run i's shape: some still running, durations and names out of creation order, labels, params."""
    created = T0 + timedelta(minutes=i)
    running = i % 5 == 0
    duration = (i * 37) % 600 + 1
    return {
        "name": f"run-{(i * 7) % 23:02d}-{i}",
        "created": created,
        "finished": None if running else created + timedelta(seconds=duration),
        "duration": None if running else duration,
        "team": ["nlp", "vision", None][i % 3],
        "lr": "0.1" if i % 2 else "0.01",
        "batch": "32" if i % 3 else "64",
        "owner": "nightly" if i % 4 == 0 else None,
    }


RUNS = [spec(i) for i in range(23)]


@pytest.fixture
async def api(pool, settings):
    events = []
    for i, r in enumerate(RUNS):
        wf = WorkflowBuilder(name=r["name"], namespace="ml")
        meta = wf.obj["metadata"]
        meta["creationTimestamp"] = iso(r["created"])
        if r["team"]:
            meta["labels"]["team"] = r["team"]
        if r["owner"]:
            meta["labels"]["scheduledworkflows.kubeflow.org/scheduledWorkflowName"] = r["owner"]
        wf.obj["spec"]["arguments"]["parameters"] = [{"name": "lr", "value": r["lr"]}, {"name": "batch", "value": r["batch"]}]
        wf.obj["status"]["startedAt"] = iso(r["created"])
        wf.obj["status"]["phase"] = "Running" if r["finished"] is None else "Succeeded"
        if r["finished"] is not None:
            wf.obj["status"]["finishedAt"] = iso(r["finished"])
        events.append(wf.event("ADDED"))
    await ingest(pool, settings, events)
    async with serve(settings=settings, pool=pool) as client:
        yield client


async def get_json(api, path, status=200):
    async with api.get(path) as resp:
        body = await resp.json()
        assert resp.status == status, body
        return body


async def walk(api, query: str, limit: int = 4) -> list[str]:
    names, token = [], None
    while True:
        body = await get_json(api, f"/api/v1/runs?{query}&limit={limit}" + (f"&page_token={token}" if token else ""))
        names += [r["name"] for r in body["runs"]]
        token = body["next_page_token"]
        if token is None:
            return names


def order(key, *, descending: bool) -> list[str]:
    ranked = sorted(RUNS, key=lambda r: (key(r), f"uid-{r['name']}"), reverse=descending)
    return [r["name"] for r in ranked]


NEVER = datetime.min.replace(tzinfo=timezone.utc)


SORTS = [
    ("created_at", lambda r: r["created"]),
    ("finished_at", lambda r: r["finished"] or NEVER),  # unfinished runs sort as the oldest
    ("duration", lambda r: r["duration"] if r["duration"] is not None else float("-inf")),
    ("name", lambda r: r["name"]),
]


@pytest.mark.parametrize(("sort", "key"), SORTS)
@pytest.mark.parametrize("descending", [False, True])
async def test_every_sort_pages_through_all_runs_in_order(api, sort, key, descending):
    got = await walk(api, f"sort={'-' if descending else ''}{sort}")
    assert got == order(key, descending=descending)


@pytest.mark.parametrize(("sort", "key"), SORTS)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ("param.lr=0.1", lambda r: r["lr"] == "0.1"),
        ("param.lr=0.01&param.batch=32", lambda r: r["lr"] == "0.01" and r["batch"] == "32"),
        ("param.batch=64&label=team=nlp", lambda r: r["batch"] == "64" and r["team"] == "nlp"),
    ],
)
async def test_argument_filtered_listings_page_in_order_for_every_sort(api, sort, key, descending, params, predicate):
    got = await walk(api, f"{params}&sort={'-' if descending else ''}{sort}", limit=2)
    assert got == [name for name in order(key, descending=descending) if predicate(next(r for r in RUNS if r["name"] == name))]


async def test_an_argument_filtered_listing_follows_a_change_of_a_runs_creation_time(api, pool):
    # Creation timestamps are immutable in Kubernetes, but the listing key is stored twice (the
    # run's and its arguments') and must never disagree, whoever writes the run.
    oldest = min((r for r in RUNS if r["lr"] == "0.1"), key=lambda r: r["created"])
    await pool.execute("UPDATE runs SET created_at = $1 WHERE name = $2", T0 + timedelta(days=1), oldest["name"])
    got = await walk(api, "param.lr=0.1&sort=-created_at")
    assert got[0] == oldest["name"]
    assert sorted(got) == sorted(r["name"] for r in RUNS if r["lr"] == "0.1")


async def test_an_argument_written_outside_the_agent_is_found_by_the_filter(api, pool):
    run = RUNS[4]
    await pool.execute(
        "INSERT INTO parameters (run_id, step_id, direction, name, value, fp)"
        " SELECT id, '', 'argument', 'seed', '7', 0 FROM runs WHERE name = $1",
        run["name"],
    )
    assert await walk(api, "param.seed=7") == [run["name"]]
    assert await walk(api, "param.seed=7&sort=created_at") == [run["name"]]


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("label=team=nlp", lambda r: r["team"] == "nlp"),
        ("label=team", lambda r: r["team"] is not None),
        ("label=!team", lambda r: r["team"] is None),
        ("label=team=nlp&param.lr=0.1", lambda r: r["team"] == "nlp" and r["lr"] == "0.1"),
        ("param.lr=0.01", lambda r: r["lr"] == "0.01"),
        ("scheduled_workflow=nightly", lambda r: r["owner"] == "nightly"),
        ("min_duration=100&max_duration=300", lambda r: r["duration"] is not None and 100 <= r["duration"] <= 300),
        ("finished_after=2026-03-01T00:10:00Z", lambda r: r["finished"] is not None and r["finished"] >= T0 + timedelta(minutes=10)),
        ("finished_before=2026-03-01T00:10:00Z", lambda r: r["finished"] is not None and r["finished"] < T0 + timedelta(minutes=10)),
        ("created_after=2026-03-01T00:05:00Z&created_before=2026-03-01T00:09:00Z",
         lambda r: T0 + timedelta(minutes=5) <= r["created"] < T0 + timedelta(minutes=9)),
        ("phase=Running", lambda r: r["finished"] is None),
    ],
)
async def test_filters_select_exactly_the_matching_runs_with_a_total_when_asked(api, query, predicate):
    expected = {r["name"] for r in RUNS if predicate(r)}
    assert expected, "every filter case selects something"
    assert set(await walk(api, query)) == expected
    body = await get_json(api, f"/api/v1/runs?{query}&count=true&limit=1")
    assert body["total"] == len(expected)
    assert (await get_json(api, f"/api/v1/runs?{query}&limit=1"))["total"] is None


@pytest.mark.parametrize(
    "query",
    ["label=!team=nlp", "label=", "min_duration=-1", "param.=1", "sort=colour", "count=perhaps", "sort=-finished_at&sort=name"],
)
async def test_malformed_filters_are_400(api, query):
    assert (await get_json(api, f"/api/v1/runs?{query}", status=400))["error"]["message"]
