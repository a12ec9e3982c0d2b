"""Argo's resource accounting in the real fixtures: status.resourcesDuration, status.progress and
each node's resourcesDuration become the run's and the steps' fields, exactly as the files hold them."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.real_objects import FIXTURES, fixture_files
from tests.support.workflows import load, raw_nodes

ARGO = FIXTURES / "argo"

# (fixture, the run's resourcesDuration, its progress), as written in each file's status.
RUNS = [
    ("retry-omit.yaml", {"cpu": 9, "memory": 2}, None),
    ("dag-exhausted-retries-xfail.yaml", {}, None),  # still Running: only its nodes are accounted
    ("util_test__onExitWorkflowRetry.yaml", {"cpu": 1, "memory": 27}, "5/5"),
    ("util_test__retryWorkflowWithNestedDAGsWithSuspendNodes.yaml", {"cpu": 18, "memory": 18}, "11/12"),
    ("util_test__subdag-iterate.yaml", {"cpu": 0, "memory": 18}, "6/6"),
    ("artifact_gc_test__artgcWorkflow.yaml", {"cpu": 7, "memory": 4}, "2/2"),
]


@pytest.mark.parametrize(("fixture", "resources", "progress"), RUNS, ids=[r[0] for r in RUNS])
def test_the_run_records_its_resources_duration_and_progress(fixture, resources, progress):
    state = translate_workflow(load(ARGO / fixture))
    assert state.run.resources_duration == resources
    assert state.run.progress == progress
    assert state.run.estimated_duration is None  # none of the files has one
    assert not [w for w in state.warnings if w.startswith(("bad_seconds", "bad_progress"))]


def test_every_step_records_its_nodes_resources_duration():
    state = translate_workflow(load(ARGO / "artifact_gc_test__artgcWorkflow.yaml"))
    assert {s.id: s.resources_duration for s in state.steps} == {
        "two-artgc-8tcvt": {"cpu": 7, "memory": 4},
        "two-artgc-8tcvt-225996876": {"cpu": 4, "memory": 2},
        "two-artgc-8tcvt-292960257": {"cpu": 7, "memory": 4},
        "two-artgc-8tcvt-802059674": {"cpu": 3, "memory": 2},
        "two-artgc-8tcvt-1079173309": {"cpu": 4, "memory": 2},
    }
    retried = translate_workflow(load(ARGO / "dag-exhausted-retries-xfail.yaml"))
    assert {s.id: s.resources_duration for s in retried.steps if s.resources_duration} == {
        "retry-with-dags-731586981": {"cpu": 2, "memory": 1},
        "retry-with-dags-2549694399": {"cpu": 3, "memory": 1},
        "retry-with-dags-3153835778": {"cpu": 2, "memory": 1},
    }


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_in_every_fixture_a_step_holds_what_its_node_accounts_and_nothing_else(path):
    obj = load(path)
    nodes = {node.get("id") or key: node for key, node in raw_nodes(obj).items()}
    state = translate_workflow(obj)
    for step in state.steps:
        assert step.resources_duration == (nodes[step.id].get("resourcesDuration") or {}), step.id
    assert state.run.resources_duration == ((obj.get("status") or {}).get("resourcesDuration") or {})
