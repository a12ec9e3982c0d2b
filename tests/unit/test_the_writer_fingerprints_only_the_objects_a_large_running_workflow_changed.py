"""Of a large running workflow, the writer fingerprints again only the steps, parameters and artifact
references whose objects the agent's node memo made anew: the others are the very objects it
fingerprinted for the run's last state. What it writes is what a writer that fingerprints everything writes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from runledger.agent.translate import NodeMemo, translate_workflow
from runledger.store import writer
from runledger.store.writer import KNOWN_MIN_STEPS, RunWriter, _Batch

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def running_workflow(steps: int, *, version: int) -> dict:
    name = "wf"
    nodes = {name: {"id": name, "name": name, "type": "DAG", "phase": "Running",
                    "children": [f"{name}-{j}" for j in range(steps)]}}  # fmt: skip
    for j in range(steps):
        nodes[f"{name}-{j}"] = {
            "id": f"{name}-{j}", "name": f"{name}.s{j}", "type": "Pod", "phase": "Running", "boundaryID": name,
            "inputs": {"parameters": [{"name": "x", "value": str(j)}]},
            "outputs": {"artifacts": [{"name": "out", "s3": {"bucket": "b", "key": f"k/{j}"}}]},
        }  # fmt: skip
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": "ns", "uid": "u-1", "resourceVersion": str(version)},
            "status": {"phase": "Running", "nodes": nodes}}  # fmt: skip


def one_node_finished(obj: dict, *, version: int) -> dict:
    changed = copy.deepcopy(obj)
    changed["metadata"]["resourceVersion"] = str(version)
    node = changed["status"]["nodes"]["wf-3"]
    node["phase"] = "Succeeded"
    node["outputs"]["parameters"] = [{"name": "y", "value": "done"}]
    return changed


def rows(batch: _Batch) -> list:
    return [(name, args) for name, _, args, _ in batch.statements()]


@pytest.fixture
def fingerprinted(monkeypatch) -> list[str]:
    """The kinds of objects the writer fingerprints, one entry each time."""
    calls: list[str] = []
    for name, kind in (("_step_fingerprint", "step"), ("_artifact_fingerprint", "artifact")):
        real = getattr(writer, name)
        monkeypatch.setattr(writer, name, lambda *args, _real=real, _kind=kind: calls.append(_kind) or _real(*args))
    return calls


def test_only_the_changed_node_is_fingerprinted_again_and_the_rows_are_the_same(fingerprinted) -> None:
    steps = KNOWN_MIN_STEPS
    memo, ingesting = NodeMemo(), RunWriter()
    first = running_workflow(steps, version=1)
    state = translate_workflow(first, memo=memo)
    before = ingesting._diff(state, None, _Batch(outbox=False), NOW)
    known = ingesting._forget_known(state.run.id)
    assert fingerprinted.count("step") == steps + 1  # the DAG node and its steps
    fingerprinted.clear()

    state = translate_workflow(one_node_finished(first, version=2), memo=memo)
    batch = _Batch(outbox=False)
    after = ingesting._diff(state, before, batch, NOW, known=known)
    assert fingerprinted == ["step", "artifact"]  # the one node made anew: its step and its artifact

    fresh_batch = _Batch(outbox=False)
    fresh = RunWriter()._diff(state, before, fresh_batch, NOW)
    assert after == fresh
    assert rows(batch) == rows(fresh_batch)
    assert [row.id for row in batch.steps] == ["wf-3"]


def test_a_small_or_finished_workflow_keeps_nothing_between_writes() -> None:
    ingesting = RunWriter()
    small = translate_workflow(running_workflow(KNOWN_MIN_STEPS - 2, version=1), memo=NodeMemo())
    ingesting._diff(small, None, _Batch(outbox=False), NOW)
    finished_obj = running_workflow(KNOWN_MIN_STEPS, version=1)
    finished_obj["status"]["phase"] = "Succeeded"
    finished = translate_workflow(finished_obj)
    ingesting._diff(finished, None, _Batch(outbox=False), NOW)
    assert not ingesting._known


def test_the_objects_kept_are_bounded_oldest_run_first() -> None:
    ingesting = RunWriter()
    for i in range(writer.KNOWN_OBJECTS // (3 * KNOWN_MIN_STEPS) + 2):
        obj = running_workflow(KNOWN_MIN_STEPS, version=1)
        obj["metadata"]["uid"] = f"u-{i}"
        ingesting._diff(translate_workflow(obj), None, _Batch(outbox=False), NOW)
    assert ingesting._known_objects <= writer.KNOWN_OBJECTS
    assert ingesting._known_objects == sum(map(writer._objects, ingesting._known.values()))
    assert "u-0" not in ingesting._known and "u-1" not in ingesting._known
