"""A resourcesDuration value, an estimatedDuration or a progress Argo would never write (negative,
not a number, past 2**53 - 1, not done/total) is recorded as absent and reported as a warning of its
kind; the run, its other resources and its steps are kept."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

FIXTURE = FIXTURES / "argo" / "artifact_gc_test__artgcWorkflow.yaml"
STEP = "two-artgc-8tcvt-802059674"


def kinds(warnings) -> list[str]:
    return [w.split(":", 1)[0] for w in warnings]


def with_status(**status) -> dict:
    obj = load(FIXTURE)
    obj["status"].update(status)
    return obj


@pytest.mark.parametrize(
    "bad",
    [-1, -(2**70), "12", "lots", True, None, [], {"seconds": 3}, 1.5, float("nan"), float("inf"), 2**53, 2**70, 1e300],
    ids=repr,
)
def test_a_bad_run_resource_is_left_out_and_counted_once(bad):
    obj = with_status(resourcesDuration={"cpu": bad, "memory": 34, "nvidia.com/gpu": 1})
    state = translate_workflow(obj)
    assert state.run.resources_duration == {"memory": 34, "nvidia.com/gpu": 1}
    assert kinds(state.warnings) == ([] if bad is None else ["bad_seconds"])
    assert len(state.steps) == len(obj["status"]["nodes"])


def test_the_largest_exact_and_whole_float_values_are_kept():
    state = translate_workflow(with_status(resourcesDuration={"cpu": 2**53 - 1, "memory": 12.0, "gpu": 0}))
    assert state.run.resources_duration == {"cpu": 2**53 - 1, "memory": 12, "gpu": 0}
    assert state.warnings == ()


def test_a_bad_step_resource_is_left_out_and_counted_naming_the_node():
    obj = load(FIXTURE)
    obj["status"]["nodes"][STEP]["resourcesDuration"] = {"cpu": -3, "memory": "2s"}
    state = translate_workflow(obj)
    step = next(s for s in state.steps if s.id == STEP)
    assert step.resources_duration == {}
    assert kinds(state.warnings) == ["bad_seconds", "bad_seconds"]
    assert all(STEP in w for w in state.warnings)


def test_a_resources_duration_that_is_no_map_is_absent():
    state = translate_workflow(with_status(resourcesDuration=[1, 2]))
    assert state.run.resources_duration == {}


@pytest.mark.parametrize(("value", "kept"), [(3600, 3600), (0, 0), (None, None), (-5, None), ("an hour", None),
                                             (2**60, None), (False, None)])  # fmt: skip
def test_estimated_duration_is_a_whole_number_of_seconds(value, kept):
    state = translate_workflow(with_status(estimatedDuration=value))
    assert state.run.estimated_duration == kept
    assert kinds(state.warnings) == ([] if kept is not None or value is None else ["bad_seconds"])


@pytest.mark.parametrize(("value", "kept"), [("3/7", "3/7"), ("0/0", "0/0"), ("", None), (None, None),
                                             ("three of seven", None), ("3/", None), (7, None), ("3/7\n", None),
                                             ("1" * 40 + "/2", None)])  # fmt: skip
def test_progress_is_done_over_total(value, kept):
    state = translate_workflow(with_status(progress=value))
    assert state.run.progress == kept
    assert kinds(state.warnings) == ([] if kept is not None or value in ("", None) else ["bad_progress"])
