"""A real workflow whose times are Go's zero time or out of range, whose exit code does not fit 32
bits and whose names hold NULs, and its step's pod likewise: all are stored, counted, and read back
through every endpoint and the event feed with those fields null."""

from __future__ import annotations

import pytest

from runledger.agent.ingest import Ingestor
from runledger.agent.translate import translate_workflow
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.event_streams import open_stream, serve_feed, stored_transitions
from tests.support.pods import pod_of_step
from tests.support.reading_everywhere import read_run_everywhere
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

FIXTURE = FIXTURES / "argo" / "util_test__workflow-retry.yaml"
POD_NODE = "workflow-retry-1861571805"


@pytest.fixture
async def feed(pool, settings):
    async with serve_feed(settings=settings, pool=pool) as feed:
        yield feed


def malformed() -> tuple[dict, dict]:
    obj = load(FIXTURE)
    obj["metadata"]["creationTimestamp"] = "0001-01-01T00:00:00Z"
    obj["status"]["startedAt"] = "0001-01-01T00:00:00Z"
    obj["status"]["finishedAt"] = "0001-01-01T00:00:00+14:00"
    obj["metadata"]["labels"]["team"] = "ml\x00"
    for node in obj["status"]["nodes"].values():
        node["startedAt"], node["finishedAt"] = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"
    node = obj["status"]["nodes"][POD_NODE]
    node["outputs"]["exitCode"] = "99999999999999999999"
    node["hostNodeName"] = "node\x001"
    pod = pod_of_step(load(FIXTURE), load(FIXTURE)["status"]["nodes"][POD_NODE])
    status = pod["status"]
    status["startTime"] = status["conditions"][0]["lastTransitionTime"] = "0001-01-01T00:00:00Z"
    main = status["containerStatuses"][1]
    main["restartCount"] = 2**40
    main["state"]["terminated"].update(exitCode=2**40, startedAt="0001-01-01T00:00:00+14:00",
                                       finishedAt="9999-12-31T23:00:00-14:00")  # fmt: skip
    pod["spec"]["nodeName"] = "node\x001"
    return obj, pod


async def ingest_both(pool, settings, obj: dict, pod: dict) -> Ingestor:
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        await ingestor.submit(WatchEvent(type="ADDED", object=obj))
        await ingestor.submit_pod(WatchEvent(type="ADDED", object=pod))
        await ingestor.drain()
    return ingestor


async def test_unstorable_values_are_stored_as_null_counted_and_read_everywhere(feed, pool, settings, conn):
    obj, pod = malformed()
    run_id = translate_workflow(obj).run.id
    async with open_stream(feed.client) as stream:
        ingestor = await ingest_both(pool, settings, obj, pod)
        stored = await stored_transitions(conn)
        received = await stream.take(len(stored))
    assert ingestor.stats.errors == {} and ingestor.stats.runs_written == 1 and ingestor.stats.pods_written == 1
    assert ingestor.stats.warnings["bad_time"] == 1 + 2 * 4  # the run's finish; each Pod node's and the pod's
    assert ingestor.stats.warnings["out_of_range"] == 3 and ingestor.stats.warnings["nul"] == 2
    assert stored and all(e.data["run_id"] == run_id for e in received)
    assert not any(e.data["at"].startswith(("0001", "9999")) for e in received)

    bodies = await read_run_everywhere(feed.client, run_id)
    run = bodies["/api/v1/runs/{id}"]
    assert (run["created_at"], run["started_at"], run["finished_at"]) == (None, None, None)
    assert run["labels"]["team"] == "ml" and run["phase"] == "Failed"
    steps = {s["id"]: s for s in bodies["/api/v1/runs/{id}/steps"]["steps"]}
    assert len(steps) == len(obj["status"]["nodes"])
    assert all(s["started_at"] is None and s["finished_at"] is None for s in steps.values())
    step = steps[POD_NODE]
    assert step["exit_code"] is None and step["host_node"] == "node1"
    assert step["pod"]["exit_code"] is None and step["pod"]["restart_count"] == 2**31 - 1
    assert (step["pod"]["scheduled_at"], step["pod"]["started_at"], step["pod"]["finished_at"]) == (None, None, None)
    assert bodies["/apis/v1beta1/runs/{id}"]["run"].get("finished_at") is None
    assert bodies["/apis/v2beta1/runs/{id}"].get("finished_at") is None
