"""An integer beyond its 32-bit column is absent (a restart count is clipped), and a NUL character,
which no Postgres text holds, is removed: each is counted, and the run or pod is kept. A namespace
or uid holding a NUL, and an identifying field that is not a string, refuse the object instead."""

from __future__ import annotations

import copy

import pytest

from runledger.agent.pod_facts import translate_pod
from runledger.agent.translate import TranslationError, translate_workflow
from tests.support.pods import pod_of_step
from tests.support.real_objects import FIXTURES
from tests.support.workflows import compressed, load

FIXTURE = FIXTURES / "argo" / "util_test__workflow-retry.yaml"
FAILED_POD_NODE = "workflow-retry-1861571805"  # exitCode "1"
HUGE = [2**40, -(2**31) - 1, "99999999999999999999", float("inf"), float("-inf")]


def kinds(warnings) -> list[str]:
    return [w.split(":", 1)[0] for w in warnings]


def with_exit_code(value) -> dict:
    obj = load(FIXTURE)
    obj["status"]["nodes"][FAILED_POD_NODE]["outputs"]["exitCode"] = value
    return obj


def a_pod() -> dict:
    workflow = load(FIXTURE)
    return copy.deepcopy(pod_of_step(workflow, workflow["status"]["nodes"][FAILED_POD_NODE]))


@pytest.mark.parametrize("value", HUGE)
def test_an_exit_code_beyond_32_bits_is_absent_and_counted(value):
    state = translate_workflow(with_exit_code(value))
    step = next(s for s in state.steps if s.id == FAILED_POD_NODE)
    assert step.exit_code is None and step.phase == "Failed"
    assert kinds(state.warnings) == ["out_of_range"]
    assert len(state.steps) == len(load(FIXTURE)["status"]["nodes"])


def test_32_bit_exit_codes_at_both_ends_are_kept():
    for value in (2**31 - 1, "-2147483648"):
        step = next(s for s in translate_workflow(with_exit_code(value)).steps if s.id == FAILED_POD_NODE)
        assert step.exit_code == int(value)


@pytest.mark.parametrize("value", HUGE)
def test_a_pod_exit_code_beyond_32_bits_is_absent_and_counted(value):
    pod = a_pod()
    pod["status"]["containerStatuses"][1]["state"]["terminated"]["exitCode"] = value
    observed = translate_pod(pod)
    assert observed.exit_code is None and kinds(observed.warnings) == ["out_of_range"]


@pytest.mark.parametrize("value, expected", [(2**40, 2**31 - 1), ("99999999999999999999", 2**31 - 1),
                                             (float("inf"), 2**31 - 1), (7, 7)])  # fmt: skip
def test_a_restart_count_beyond_32_bits_is_clipped_and_counted(value, expected):
    pod = a_pod()
    pod["status"]["containerStatuses"][1]["restartCount"] = value
    observed = translate_pod(pod)
    assert observed.restart_count == expected
    assert kinds(observed.warnings) == ([] if value == 7 else ["out_of_range"])


def with_nul(obj: dict) -> dict:
    obj["metadata"]["name"] = "workflow-\x00retry"
    obj["metadata"]["labels"]["team\x00"] = "ml\x00"
    node = obj["status"]["nodes"][FAILED_POD_NODE]
    node["name"] = node["name"] + "\x00"
    node["hostNodeName"] = "node\x001"
    node["outputs"].setdefault("parameters", []).append({"name": "p\x00", "value": "v\x00"})
    return obj


@pytest.mark.parametrize("variant", [lambda o: o, compressed], ids=["nodes", "compressedNodes"])
def test_nul_characters_in_names_labels_and_nodes_are_removed_and_counted(variant):
    state = translate_workflow(variant(with_nul(load(FIXTURE))))
    expected = translate_workflow(variant(load(FIXTURE)))
    assert state.run.name == "workflow-retry" and state.run.id == expected.run.id
    assert state.run.labels["team"] == "ml"
    step = next(s for s in state.steps if s.id == FAILED_POD_NODE)
    assert step.name == next(s for s in expected.steps if s.id == FAILED_POD_NODE).name
    assert step.host_node == "node1"
    assert any(p.name == "p" and p.value == "v" for p in state.parameters)
    assert "\x00" not in repr(state)
    assert kinds(state.warnings) == ["nul"] * (1 + (variant is compressed))
    assert len(state.steps) == len(expected.steps)


def test_nul_characters_in_a_pod_are_removed_and_counted():
    pod = a_pod()
    pod["spec"]["nodeName"] = "node\x001"
    pod["metadata"]["name"] += "\x00"
    observed = translate_pod(pod)
    assert observed.host_node == "node1" and "\x00" not in observed.pod_name
    assert kinds(observed.warnings) == ["nul"]


@pytest.mark.parametrize("field", ["namespace", "uid"])
def test_a_nul_in_the_namespace_or_uid_refuses_the_workflow_naming_the_field(field):
    obj = load(FIXTURE)
    obj["metadata"][field] = "argo\x00"
    with pytest.raises(TranslationError, match=f"metadata.{field} holds a NUL character"):
        translate_workflow(obj)


def test_a_nul_in_a_pod_namespace_or_its_workflow_uid_refuses_the_pod():
    pod = a_pod()
    pod["metadata"]["namespace"] = "argo\x00"
    with pytest.raises(TranslationError, match="metadata.namespace holds a NUL character"):
        translate_pod(pod)
    pod = a_pod()
    pod["metadata"]["ownerReferences"][0]["uid"] = "abc\x00"
    with pytest.raises(TranslationError, match="owner reference's uid holds a NUL character"):
        translate_pod(pod)


@pytest.mark.parametrize("field", ["name", "namespace", "uid", "generateName"])
def test_an_identifying_field_that_is_not_a_string_refuses_the_workflow_naming_the_field(field):
    obj = load(FIXTURE)
    obj["metadata"][field] = ["a", "b"]
    with pytest.raises(TranslationError, match=f"metadata.{field} must be a string, not a list"):
        translate_workflow(obj)


def test_a_pod_name_that_is_not_a_string_refuses_the_pod_naming_the_field():
    pod = a_pod()
    pod["metadata"]["name"] = {"a": "b"}
    with pytest.raises(TranslationError, match="metadata.name must be a string, not a dict"):
        translate_pod(pod)


def test_a_node_name_or_label_that_is_not_a_string_is_missing_not_a_python_repr():
    obj = load(FIXTURE)
    obj["metadata"]["labels"]["team"] = ["a", "b"]
    obj["status"]["nodes"][FAILED_POD_NODE]["name"] = ["a", "b"]
    state = translate_workflow(obj)
    assert state.run.labels["team"] == ""
    assert next(s for s in state.steps if s.id == FAILED_POD_NODE).name == FAILED_POD_NODE
