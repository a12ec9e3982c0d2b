"""The writer's cache keeps each run's fingerprints packed into two strings between writes."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from runledger.agent.translate import translate_workflow
from runledger.store.writer import Packed, Persisted, RunWriter, _Batch, pack, unpack
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


def persisted_of(obj: dict) -> Persisted:
    state = translate_workflow(obj)
    after = RunWriter()._diff(
        state, None, _Batch(outbox=False), datetime.now(UTC)
    )
    assert after is not None
    return after


def running_workflow(steps: int) -> dict:
    name = "wf"
    nodes = {name: {"id": name, "name": name, "type": "DAG", "phase": "Running",
                    "children": [f"{name}-{j}" for j in range(steps)]}}  # fmt: skip
    for j in range(steps):
        nodes[f"{name}-{j}"] = {"id": f"{name}-{j}", "name": f"{name}.s{j}", "type": "Pod", "phase": "Running",
                                "boundaryID": name, "inputs": {"parameters": [{"name": "x", "value": str(j)}]}}  # fmt: skip
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": "ns", "uid": "u-1", "resourceVersion": "7"},
            "spec": {"arguments": {"parameters": [{"name": "lr", "value": "0.1"}]}},
            "status": {"phase": "Running", "nodes": nodes}}  # fmt: skip


def test_every_real_workflow_unpacks_to_exactly_the_fingerprints_it_was_packed_from():
    for obj in map(load, fixture_files()):
        persisted = persisted_of(obj)
        packed = pack(persisted)
        assert isinstance(packed, Packed)
        restored = unpack(packed)
        assert restored == persisted
        assert list(restored.steps) == list(
            persisted.steps
        )  # the order steps were seen in, too
        assert list(restored.parameters) == list(persisted.parameters)


def test_a_step_without_a_phase_and_an_edge_to_an_unknown_node_survive_packing():
    persisted = Persisted(1, "Running", "9", False, "ns", "wf", steps={"a": 5, "b": -(2**63)},
                          step_phases={"a": "Running"}, edges=(("a", "b"), ("b", "gone")),
                          parameters={("", "argument", "lr"): 2**63 - 1}, artifacts={("a", "output", "m"): 0})  # fmt: skip
    assert unpack(pack(persisted)) == persisted


def test_a_run_whose_ids_will_not_encode_is_kept_as_it_is():
    persisted = Persisted(
        1,
        "Running",
        None,
        False,
        "ns",
        "wf",
        steps={"bad-\ud800": 3},
        step_phases={"bad-\ud800": "Failed"},
    )
    assert pack(persisted) is persisted
    assert unpack(persisted) is persisted


def test_a_cached_run_of_ten_running_steps_takes_a_fraction_of_its_unpacked_size():
    packed = pack(persisted_of(running_workflow(9)))
    assert isinstance(packed, Packed)
    size = (
        sys.getsizeof(packed) + sys.getsizeof(packed.keys) + sys.getsizeof(packed.fps)
    )
    assert size < 1_000
