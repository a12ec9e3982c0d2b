"""Go's zero time is how Argo writes "unset": it is absent. A time Postgres or asyncpg cannot hold
(out of Python's years once in UTC, or on their very ends, which asyncpg writes as ±infinity) is
absent too, and counted as a bad_time warning; the run and the pod are always kept."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from runledger.agent.pod_facts import translate_pod
from runledger.agent.translate import translate_workflow
from tests.support.pods import pod_of_step
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

FIXTURE = FIXTURES / "argo" / "util_test__workflow-retry.yaml"
ZERO = "0001-01-01T00:00:00Z"
UNSTORABLE = [
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "9999-12-31T23:00:00-14:00",  # year 10000 in UTC
    "9999-12-31T23:59:59.999999Z",  # datetime.max: asyncpg writes infinity
]


def kinds(warnings) -> list[str]:
    return [w.split(":", 1)[0] for w in warnings]


def workflow_with_times(value) -> dict:
    obj = load(FIXTURE)
    obj["metadata"]["creationTimestamp"] = value
    obj["metadata"]["deletionTimestamp"] = value
    obj["status"]["startedAt"] = obj["status"]["finishedAt"] = value
    for node in obj["status"]["nodes"].values():
        node["startedAt"] = node["finishedAt"] = value
    return obj


def test_zero_time_everywhere_in_a_real_workflow_is_absent_without_a_warning():
    state = translate_workflow(workflow_with_times(ZERO))
    run = state.run
    assert (run.created_at, run.started_at, run.finished_at, state.deletion_timestamp) == (None, None, None, None)
    assert len(state.steps) == len(load(FIXTURE)["status"]["nodes"])
    assert all(s.started_at is None and s.finished_at is None for s in state.steps)
    assert "bad_time" not in kinds(state.warnings)


@pytest.mark.parametrize("value", UNSTORABLE)
def test_an_unstorable_time_everywhere_in_a_real_workflow_is_absent_and_counted(value):
    state = translate_workflow(workflow_with_times(value))
    run = state.run
    assert (run.created_at, run.started_at, run.finished_at, state.deletion_timestamp) == (None, None, None, None)
    assert all(s.started_at is None and s.finished_at is None for s in state.steps)
    assert kinds(state.warnings).count("bad_time") == 4 + 2 * len(state.steps)
    assert state.run.phase == "Failed" and state.steps


def test_a_naive_yaml_zero_time_is_absent_too():
    state = translate_workflow(workflow_with_times(datetime(1, 1, 1)))  # PyYAML reads an unquoted one naive
    assert state.run.created_at is None and "bad_time" not in kinds(state.warnings)


def test_times_near_the_ends_that_can_be_stored_are_kept():
    state = translate_workflow(workflow_with_times("0001-01-01T00:00:01Z"))
    assert state.run.started_at == datetime(1, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    state = translate_workflow(workflow_with_times("9999-12-30T00:00:00-14:00"))
    assert state.run.started_at is not None and not state.warnings


def pod_with_times(value) -> dict:
    workflow = load(FIXTURE)
    node = next(n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod")
    pod = copy.deepcopy(pod_of_step(workflow, node))
    status = pod["status"]
    status["startTime"] = value
    status["conditions"][0]["lastTransitionTime"] = value
    terminated = status["containerStatuses"][1]["state"]["terminated"]
    terminated["startedAt"] = terminated["finishedAt"] = value
    return pod


def test_zero_time_in_a_pod_is_absent():
    pod = translate_pod(pod_with_times(ZERO))
    assert (pod.scheduled_at, pod.started_at, pod.finished_at) == (None, None, None)
    assert pod.warnings == ()


@pytest.mark.parametrize("value", UNSTORABLE)
def test_an_unstorable_time_in_a_pod_is_absent_and_counted(value):
    pod = translate_pod(pod_with_times(value))
    assert (pod.scheduled_at, pod.started_at, pod.finished_at) == (None, None, None)
    assert kinds(pod.warnings) == ["bad_time"] * 4  # scheduled, both started-at candidates, finished
    assert pod.exit_code is not None
