"""Every real Workflow in tests/fixtures translates, and nothing in it is lost or invented.

Expectations are read from the raw object in each test, never hard-coded per fixture.
"""

from __future__ import annotations

import copy

import pytest

from runledger.agent.translate import run_id_for, translate_workflow
from tests.support.real_objects import fixture_files
from tests.support.workflows import compressed, load, offloaded, raw_nodes

FIXTURES = fixture_files()
IDS = [f"{p.parent.name}/{p.name}" for p in FIXTURES]
WITH_NODES = [p for p in FIXTURES if raw_nodes(load(p))]


@pytest.fixture(params=FIXTURES, ids=IDS)
def workflow(request):
    return load(request.param)


def test_run_identity_and_phase_come_from_metadata_and_status(workflow):
    state = translate_workflow(workflow)
    meta, status = workflow["metadata"], workflow.get("status") or {}
    name = meta.get("name") or meta["generateName"]  # unsubmitted manifests are recorded by generateName
    assert state.run.id == run_id_for({**meta, "name": name})
    assert state.run.name == name
    assert state.run.namespace == (meta.get("namespace") or "default")
    assert state.run.phase == (status.get("phase") or "")
    assert state.run.uid == meta.get("uid")
    assert state.run.resource_version == (str(meta["resourceVersion"]) if meta.get("resourceVersion") else None)


def test_every_node_becomes_exactly_one_step_with_its_type_and_phase(workflow):
    nodes = raw_nodes(workflow)
    state = translate_workflow(workflow)
    assert len(state.steps) == len(nodes)
    by_id = {s.id: s for s in state.steps}
    for key, node in nodes.items():
        step = by_id[node.get("id", key)]
        assert step.type == (node.get("type") or "")
        assert step.phase == (node.get("phase") or "")
        assert step.name == node.get("name", step.id)
        assert step.template == (node.get("templateName") or (node.get("templateRef") or {}).get("template"))
        assert step.boundary_id == node.get("boundaryID")
        assert step.host_node == node.get("hostNodeName")
        exit_code = (node.get("outputs") or {}).get("exitCode")
        assert step.exit_code == (int(exit_code) if exit_code is not None else None)
        assert (step.pod_name is not None) == (node.get("type") == "Pod")


def test_node_children_become_edges(workflow):
    nodes = raw_nodes(workflow)
    expected = {(n.get("id", k), c) for k, n in nodes.items() for c in n.get("children") or []}
    assert set(translate_workflow(workflow).edges) == expected


def test_step_parameters_match_node_inputs_and_outputs(workflow):
    expected = {}
    for key, node in raw_nodes(workflow).items():
        for direction in ("inputs", "outputs"):
            for p in (node.get(direction) or {}).get("parameters") or []:
                value = p.get("value", p.get("default"))
                expected[(node.get("id", key), direction[:-1], p["name"])] = None if value is None else str(value)
    got = {(p.step_id, p.direction, p.name): p.value for p in translate_workflow(workflow).parameters if p.step_id}
    assert got == expected


def test_run_arguments_are_the_spec_arguments(workflow):
    params = ((workflow.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    expected = {p["name"]: (None if p.get("value", p.get("default")) is None else str(p.get("value", p.get("default"))))
                for p in params}  # fmt: skip
    assert translate_workflow(workflow).run.parameters == expected


def test_artifact_references_keep_their_recorded_s3_location(workflow):
    expected = {}
    for key, node in raw_nodes(workflow).items():
        for direction in ("inputs", "outputs"):
            for art in (node.get(direction) or {}).get("artifacts") or []:
                expected[(node.get("id", key), direction[:-1], art["name"])] = (art.get("s3") or {}).get("key")
    got = {(a.step_id, a.direction, a.name): a.s3_key for a in translate_workflow(workflow).artifacts}
    assert got == expected


def test_shutdown_is_the_spec_shutdown_and_none_when_absent(workflow):
    spec = workflow.get("spec") or {}
    by_deadline = "Terminate" if spec.get("activeDeadlineSeconds") == 0 else None
    assert translate_workflow(workflow).run.shutdown == (spec.get("shutdown") or by_deadline)


@pytest.mark.parametrize(("deadline", "recorded"), [(0, "Terminate"), (30, None), (False, None), (None, None)])
def test_a_zero_active_deadline_is_kfps_terminate(workflow, deadline, recorded):
    obj = copy.deepcopy(workflow)
    spec = obj.setdefault("spec", {})
    spec.pop("shutdown", None)
    spec.pop("activeDeadlineSeconds", None)
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    assert translate_workflow(obj).run.shutdown == recorded


@pytest.mark.parametrize(
    ("asked", "recorded", "reported"),
    [
        ("Terminate", "Terminate", False),
        ("Stop", "Stop", False),
        ("Pause", "Pause", True),  # not an Argo strategy: kept as written, and counted
        ("", None, False),
        (None, None, False),
    ],
)
def test_a_stop_asked_of_any_workflow_is_recorded_as_written(workflow, asked, recorded, reported):
    obj = copy.deepcopy(workflow)
    spec = obj.setdefault("spec", {})
    spec.pop("shutdown", None)
    if asked is not None:
        spec["shutdown"] = asked
    state = translate_workflow(obj)
    assert state.run.shutdown == recorded
    assert any(w.startswith("unknown_shutdown:") for w in state.warnings) is reported


def test_step_counts_add_up_to_the_number_of_nodes(workflow):
    state = translate_workflow(workflow)
    assert sum(state.run.step_counts.values()) == len(raw_nodes(workflow))


@pytest.mark.parametrize("path", WITH_NODES, ids=[f"{p.parent.name}/{p.name}" for p in WITH_NODES])
def test_compressed_nodes_translate_exactly_like_plain_nodes(path):
    plain = translate_workflow(load(path))
    packed = translate_workflow(compressed(load(path)))
    assert packed.steps == plain.steps and packed.edges == plain.edges and packed.artifacts == plain.artifacts


@pytest.mark.parametrize("path", WITH_NODES, ids=[f"{p.parent.name}/{p.name}" for p in WITH_NODES])
def test_offloaded_nodes_are_flagged_and_never_invented(path):
    state = translate_workflow(offloaded(load(path)))
    assert state.run.nodes_offloaded is True
    assert state.steps == () and state.edges == ()
    assert state.run.phase == (load(path)["status"].get("phase") or "")
