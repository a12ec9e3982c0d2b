"""Older agents stored Go's zero time as -infinity (and the last representable time as infinity).
Such rows must not break a single read: every endpoint and the event feed answer, showing the time
as absent (null), or, for a transition's own time, the time it was observed."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.event_streams import open_stream, serve_feed
from tests.support.ingesting import ingest
from tests.support.reading_everywhere import read_run_everywhere
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

FIXTURE = FIXTURES / "argo" / "util_test__workflow-retry.yaml"


@pytest.fixture
async def feed(pool, settings):
    async with serve_feed(settings=settings, pool=pool) as feed:
        yield feed


async def store_with_infinite_times(pool, settings, conn) -> str:
    """The fixture's run as an older agent left it: its times and its steps' times at ±infinity."""
    run_id = translate_workflow(load(FIXTURE)).run.id
    await ingest(pool, settings, [{"type": "ADDED", "object": load(FIXTURE)}])
    await conn.execute(
        "UPDATE runs SET created_at = '-infinity', started_at = '-infinity', finished_at = 'infinity' WHERE id = $1",
        run_id,
    )
    await conn.execute(
        "UPDATE steps SET started_at = '-infinity', finished_at = 'infinity' WHERE run_id = $1", run_id
    )
    step_id = await conn.fetchval("SELECT id FROM steps WHERE run_id = $1 AND type = 'Pod' LIMIT 1", run_id)
    await conn.execute(
        "INSERT INTO step_pods (run_id, node_id, namespace, workflow_name, pod_name, fp, scheduled_at, started_at,"
        " finished_at) VALUES ($1, $2, 'argo', 'workflow-retry', $2, 0, '-infinity', '-infinity', 'infinity')",
        run_id, step_id,
    )  # fmt: skip
    return run_id


async def test_every_read_of_a_run_answers_with_infinite_times_as_null(feed, pool, settings, conn):
    run_id = await store_with_infinite_times(pool, settings, conn)
    bodies = await read_run_everywhere(feed.client, run_id)
    run = bodies["/api/v1/runs/{id}"]
    assert (run["created_at"], run["started_at"], run["finished_at"]) == (None, None, None)
    steps = bodies["/api/v1/runs/{id}/steps"]["steps"]
    assert {(s["started_at"], s["finished_at"]) for s in steps} == {(None, None)}
    pod = next(s["pod"] for s in steps if s["pod"])
    assert (pod["scheduled_at"], pod["started_at"], pod["finished_at"]) == (None, None, None)
    listed = next(r for r in bodies["/api/v1/runs"]["runs"] if r["id"] == run_id)
    assert listed["created_at"] is None and listed["finished_at"] is None
    assert bodies["/apis/v1beta1/runs/{id}"]["run"].get("finished_at") is None
    assert bodies["/apis/v2beta1/runs/{id}"].get("finished_at") is None


async def test_transitions_at_infinite_times_are_shown_at_their_observed_time(feed, pool, settings, conn):
    run_id = await store_with_infinite_times(pool, settings, conn)
    async with open_stream(feed.client) as stream:
        await conn.execute(
            "INSERT INTO transitions (run_id, step_id, from_phase, to_phase, at)"
            " VALUES ($1, '', 'Failed', 'Running', '-infinity'), ($1, '', 'Running', 'Failed', 'infinity')",
            run_id,
        )
        received = await stream.take(2)
    assert [e.data["to_phase"] for e in received] == ["Running", "Failed"]
    assert all(e.data["at"] == e.data["observed_at"] for e in received)
    bodies = await read_run_everywhere(feed.client, run_id)
    timeline = bodies["/api/v1/runs/{id}/timeline"]["transitions"]
    infinite = [t for t in timeline if t["id"] in {e.id for e in received}]
    assert len(infinite) == 2 and all(t["at"] == t["observed_at"] for t in infinite)


async def test_a_pipelines_metric_series_answers_with_infinite_times_as_null(feed, pool, settings, conn):
    run_id = await store_with_infinite_times(pool, settings, conn)
    await conn.execute("UPDATE runs SET pipeline_name = 'p' WHERE id = $1", run_id)
    await conn.execute("INSERT INTO run_metrics (run_id, name, value, step_id) VALUES ($1, 'accuracy', 0.5, '')", run_id)

    response = await feed.client.get("/api/v1/pipelines/p/metrics", params={"name": "accuracy"})

    assert response.status == 200, await response.text()
    [point] = (await response.json())["points"]
    assert (point["run_id"], point["created_at"], point["finished_at"], point["value"]) == (run_id, None, None, 0.5)
