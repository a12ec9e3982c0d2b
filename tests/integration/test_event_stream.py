"""GET /api/v1/events over real HTTP: what the ingest path stores arrives as run and step events,
from the moment of subscribing, filtered by namespace and run, with heartbeats in quiet times."""

from __future__ import annotations

from datetime import datetime

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.builders import WorkflowBuilder
from tests.support.event_streams import (
    as_stored,
    open_stream,
    serve_feed,
    stored_transitions,
)
from tests.support.ingesting import ingest
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

KFP = FIXTURES / "kfp" / "integration-test-runtime.json"  # namespace kubeflow
ARGO = FIXTURES / "argo" / "util_test__onExitWorkflowRetry.yaml"  # namespace argo
FAILED = FIXTURES / "argo" / "dag-disable-fail-fast.yaml"  # namespace default


@pytest.fixture
async def feed(pool, settings):
    async with serve_feed(settings=settings, pool=pool) as feed:
        yield feed


def added(path) -> dict:
    return {"type": "ADDED", "object": load(path)}


async def test_transitions_stored_by_ingest_arrive_in_order_as_run_and_step_events(feed, pool, settings, conn):
    async with open_stream(feed.client) as stream:
        await ingest(pool, settings, [added(KFP)])
        stored = await stored_transitions(conn)
        received = await stream.take(len(stored))
    assert stored and as_stored(received) == stored
    obj = load(KFP)
    run = next(e for e in received if e.type == "run")
    assert run.data["step_id"] is None and run.data["step_name"] is None
    assert run.data["run_id"] == translate_workflow(obj).run.id
    assert run.data["namespace"] == "kubeflow" and run.data["workflow"] == obj["metadata"]["name"]
    assert run.data["to_phase"] == "Succeeded" and run.data["from_phase"] is None
    steps = [e for e in received if e.type == "step"]
    assert {e.data["step_id"] for e in steps} == set(obj["status"]["nodes"])
    names = {n["id"]: n.get("displayName") or n["name"] for n in obj["status"]["nodes"].values()}
    assert all(e.data["step_name"] == names[e.data["step_id"]] for e in steps)
    for event in received:
        assert event.data["id"] == event.id
        assert event.data["at"].endswith("Z") and datetime.fromisoformat(event.data["observed_at"])


async def test_a_new_stream_starts_now_without_what_was_stored_before(feed, pool, settings, conn):
    await ingest(pool, settings, [added(ARGO)])
    before = await conn.fetchval("SELECT max(id) FROM transitions")
    async with open_stream(feed.client) as stream:
        await ingest(pool, settings, [added(KFP)])
        later = await stored_transitions(conn, after=before)
        received = await stream.take(len(later))
    assert as_stored(received) == later


async def test_namespace_parameters_select_the_events_of_those_namespaces_only(feed, pool, settings, conn):
    marker = WorkflowBuilder(name="marker", namespace="argo")
    async with open_stream(feed.client, "?namespace=argo&namespace=kubeflow") as stream:
        await ingest(pool, settings, [added(ARGO), added(KFP), added(FAILED)])
        # Stored after everything above: any event of another namespace would arrive before it.
        await ingest(pool, settings, [marker.event("ADDED")])
        wanted = await conn.fetch(
            "SELECT t.id FROM transitions t JOIN runs r ON r.id = t.run_id"
            " WHERE r.namespace IN ('argo', 'kubeflow') ORDER BY t.id"
        )
        received = await stream.take(len(wanted))
    assert [e.id for e in received] == [r["id"] for r in wanted]
    assert {e.data["namespace"] for e in received} == {"argo", "kubeflow"}
    assert received[-1].data["workflow"] == "marker"


async def test_run_parameter_selects_the_events_of_that_run_only(feed, pool, settings, conn):
    watched = WorkflowBuilder(name="watched")
    other = WorkflowBuilder(name="other")
    async with open_stream(feed.client, "?run=uid-watched") as stream:
        await ingest(pool, settings, [watched.event("ADDED"), other.event("ADDED")])
        await ingest(pool, settings, [other.phase("Running").node("a", "Running").event()])
        await ingest(pool, settings, [watched.phase("Running").node("a", "Running").event()])
        await ingest(pool, settings, [watched.node("a", "Succeeded").phase("Succeeded").event()])
        wanted = await stored_transitions(conn)
        wanted = [t for t in wanted if t[1] == "uid-watched"]
        received = await stream.take(len(wanted))
    assert as_stored(received) == wanted
    assert [(e.type, e.data["to_phase"]) for e in received] == [
        ("run", "Pending"), ("step", "Running"), ("run", "Running"), ("step", "Succeeded"), ("run", "Succeeded"),
    ]  # fmt: skip


async def test_a_quiet_stream_carries_heartbeat_comments(feed):
    async with open_stream(feed.client) as stream:
        await stream.heartbeats(3, timeout=5)


@pytest.mark.parametrize(
    "query, headers",
    [
        ("", {"Last-Event-ID": "abc"}),
        ("", {"Last-Event-ID": "-1"}),
        ("", {"Last-Event-ID": "99999999999999999999"}),
        ("?last_event_id=1.5", None),
        ("?last_event_id=1&last_event_id=2", None),
        ("?since=1", None),
    ],
)
async def test_a_bad_last_event_id_or_unknown_parameter_is_a_400(feed, query, headers):
    async with feed.client.get(f"/api/v1/events{query}", headers=headers) as resp:
        assert resp.status == 400, await resp.text()
        body = await resp.json()
    assert body["error"]["code"] == "bad_request"
    assert feed.hub.subscribers == 0
