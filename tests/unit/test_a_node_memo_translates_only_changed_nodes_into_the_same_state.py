"""With a NodeMemo, a workflow's unchanged nodes are taken from its last translation, and the state is
exactly the one a translation without it makes: for every real fixture, changed, grown, shrunk, with
malformed nodes, and when what a node's translation reads besides the node changes."""

from __future__ import annotations

import copy

import pytest

from runledger.agent.translate import NodeMemo, translate_workflow
from runledger.core.artifact_locations import RepositoryRegistry, S3Repository
from tests.support.real_objects import fixture_files
from tests.support.workflows import compressed, load, raw_nodes

WITH_NODES = [p for p in fixture_files() if raw_nodes(load(p))]


@pytest.fixture(params=WITH_NODES, ids=[f"{p.parent.name}/{p.name}" for p in WITH_NODES])
def workflow(request):
    return load(request.param)


def nodes_of(obj: dict) -> dict:
    return obj["status"]["nodes"]


def primed(obj: dict, **kwargs) -> NodeMemo:
    memo = NodeMemo()
    translate_workflow(copy.deepcopy(obj), memo=memo, **kwargs)
    return memo


def test_an_unchanged_workflow_is_the_same_state_made_of_the_same_steps(workflow):
    memo = primed(workflow)
    first = [made.step for made in memo.nodes.values()]
    again = translate_workflow(copy.deepcopy(workflow), memo=memo)
    assert again == translate_workflow(workflow)
    assert [s for s in again.steps] == first
    assert all(a is b for a, b in zip(again.steps, first))


def test_a_changed_node_is_translated_again_and_only_it(workflow):
    memo = primed(workflow)
    kept = {made.step.id: made.step for made in memo.nodes.values()}
    changed = copy.deepcopy(workflow)
    raw = raw_nodes(changed)
    key = next(iter(raw))
    raw[key] = {**raw[key], "phase": "Failed", "message": "changed", "finishedAt": "2030-01-01T00:00:00Z"}
    if changed["status"].get("compressedNodes"):
        changed = {**changed, "status": {**changed["status"], "nodes": raw, "compressedNodes": None}}
    state = translate_workflow(copy.deepcopy(changed), memo=memo)
    assert state == translate_workflow(changed)
    for step in state.steps:
        assert (step is kept.get(step.id)) == (step.id != (raw[key].get("id") or key))


def test_nodes_added_and_removed_are_the_state_without_a_memo(workflow):
    fewer = copy.deepcopy(workflow)
    if fewer["status"].get("compressedNodes"):
        fewer["status"] = {**fewer["status"], "nodes": raw_nodes(fewer), "compressedNodes": None}
    nodes = nodes_of(fewer)
    removed = nodes.pop(next(reversed(nodes)))
    memo = primed(fewer)
    assert translate_workflow(copy.deepcopy(workflow), memo=memo) == translate_workflow(workflow)
    nodes["added"] = {**removed, "id": "added", "name": "added", "children": ["nowhere"]}
    assert translate_workflow(copy.deepcopy(fewer), memo=memo) == translate_workflow(fewer)


def test_compressed_nodes_are_remembered_as_plain_ones(workflow):
    packed = compressed(workflow)
    memo = primed(packed)
    assert translate_workflow(copy.deepcopy(packed), memo=memo) == translate_workflow(packed)
    assert translate_workflow(copy.deepcopy(workflow), memo=memo) == translate_workflow(workflow)


def test_malformed_and_odd_nodes_are_reported_on_every_event(workflow):
    odd = copy.deepcopy(workflow)
    odd["status"] = {**odd["status"], "nodes": {**raw_nodes(odd), "bad": "not a node",
                     "weird": {"id": "weird", "type": "Quantum", "phase": "Wobbling", "outputs": {"exitCode": 2**40}}}}  # fmt: skip
    odd["status"].pop("compressedNodes", None)
    memo = primed(odd)
    for _ in range(2):
        state = translate_workflow(copy.deepcopy(odd), memo=memo)
        assert state == translate_workflow(odd)
        kinds = [w.split(":", 1)[0] for w in state.warnings]
        assert {"malformed_node", "unknown_node_type", "unknown_phase", "out_of_range"} <= set(kinds)


def test_truncated_values_are_counted_on_every_event(workflow):
    memo = primed(workflow, max_value_bytes=64)
    again = translate_workflow(copy.deepcopy(workflow), memo=memo, max_value_bytes=64)
    assert again == translate_workflow(workflow, max_value_bytes=64)


def test_a_new_pod_name_format_translates_every_node_again(workflow):
    memo = primed(workflow, default_pod_name_format="v2")
    state = translate_workflow(copy.deepcopy(workflow), memo=memo, default_pod_name_format="v1")
    assert state == translate_workflow(workflow, default_pod_name_format="v1")


def key_only_workflow(phase: str) -> dict:
    node = {"id": "wf-1", "name": "wf.step", "type": "Pod", "phase": phase, "templateName": "step",
            "outputs": {"artifacts": [{"name": "model", "s3": {"key": "runs/wf/model.tgz"}}]}}  # fmt: skip
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "wf", "namespace": "team", "uid": "u-1"},
            "status": {"phase": "Running", "nodes": {"wf-1": node}}}  # fmt: skip


def test_a_repository_configured_after_a_node_was_remembered_locates_its_artifacts():
    registry = RepositoryRegistry()
    memo = NodeMemo()
    before = translate_workflow(key_only_workflow("Running"), memo=memo, repositories=registry)
    assert before.artifacts[0].s3_bucket is None
    registry.set_default(S3Repository(bucket="models", endpoint="s3.example:9000"))
    after = translate_workflow(key_only_workflow("Running"), memo=memo, repositories=registry)
    assert after.artifacts[0].s3_bucket == "models"
    assert after == translate_workflow(key_only_workflow("Running"), repositories=registry)


def test_a_memo_holds_the_size_of_what_it_keeps():
    memo = NodeMemo()
    translate_workflow(key_only_workflow("Running"), memo=memo)
    one_node = memo.size
    assert one_node > 0
    bigger = key_only_workflow("Running")
    bigger["status"]["nodes"]["wf-2"] = {**bigger["status"]["nodes"]["wf-1"], "id": "wf-2", "name": "wf.other"}
    translate_workflow(bigger, memo=memo)
    assert memo.size == 2 * one_node
    translate_workflow(key_only_workflow("Running"), memo=memo)
    assert memo.size == one_node and list(memo.nodes) == ["wf-1"]


def test_a_configmap_read_again_unchanged_keeps_what_was_remembered():
    registry = RepositoryRegistry()
    data = {"default-v1": "s3:\n  bucket: models\n  endpoint: s3.example:9000\n"}
    registry.add_configmap(namespace="team", name="artifact-repositories", data=data, default_key="default-v1")
    memo = NodeMemo()
    first = translate_workflow(key_only_workflow("Running"), memo=memo, repositories=registry)
    registry.add_configmap(namespace="team", name="artifact-repositories", data=data, default_key="default-v1")
    again = translate_workflow(key_only_workflow("Running"), memo=memo, repositories=registry)
    assert again.steps[0] is first.steps[0]
    changed = {"default-v1": "s3:\n  bucket: other\n  endpoint: s3.example:9000\n"}
    registry.add_configmap(namespace="team", name="artifact-repositories", data=changed, default_key="default-v1")
    after = translate_workflow(key_only_workflow("Running"), memo=memo, repositories=registry)
    assert after.artifacts[0].s3_bucket == "other"
