"""A failed run names the step that failed: its node id, display name and template, from the real fixtures."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from tests.support.builders import WorkflowBuilder
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load


def translated(name: str):
    return translate_workflow(load(FIXTURES / "argo" / name)).run


@pytest.mark.parametrize("fixture,step", [
    # Two attempts of the retried step C failed: the last attempt is the one that ended the retries.
    ("dag-disable-fail-fast.yaml", ("dag-disable-fail-fast-r6xdc-3457680277", "C(1)", "c", "failed with exit code 2")),
    # C failed first; should-execute-3 failed later, downstream of it.
    ("retry-omit.yaml", ("dag-diamond-8q7vp-493769210", "C", "fail", "failed with exit code 1")),
    # Inside a fan-out (TaskGroup) and a Retry: the failed attempt's pod.
    ("util_test__workflow-retry.yaml", ("workflow-retry-1861571805", "launch(1:fail)(0)", "passfail", None)),
])  # fmt: skip
def test_the_failing_step_of_a_real_failed_workflow(fixture, step):
    failed = translated(fixture).failed_step
    assert failed is not None
    assert (failed.id, failed.name, failed.template, failed.message) == step


def test_a_run_that_did_not_fail_names_no_step():
    # Failed steps inside, but the workflow still runs: nothing has failed the run yet.
    assert translated("dag-exhausted-retries-xfail.yaml").failed_step is None
    assert translated("dag_retry_succeeded.yaml").failed_step is None


def test_the_deepest_failed_step_wins_over_a_shallower_one():
    wf = WorkflowBuilder(name="nest")
    wf.node("nest", "Failed", type="DAG", displayName="nest", templateName="main")
    wf.node("nest-top", "Failed", parent="nest", at="2026-01-01T00:00:01Z", displayName="top", templateName="t-top",
            boundaryID="nest")  # fmt: skip
    wf.node("nest-sub", "Failed", parent="nest", type="DAG", displayName="sub", templateName="sub", boundaryID="nest")
    wf.node("nest-deep", "Failed", parent="nest-sub", at="2026-01-01T00:00:09Z", displayName="deep",
            templateName="t-deep", boundaryID="nest-sub", message="OOMKilled")  # fmt: skip
    failed = translate_workflow(wf.phase("Failed").event()["object"]).run.failed_step
    assert (failed.id, failed.name, failed.template) == ("nest-deep", "deep", "t-deep")


def test_argo_s_message_is_kept_and_the_failure_names_the_step_instead_of_the_node_id():
    wf = WorkflowBuilder(name="churn-model-4pdln")
    wf.node("churn-model-4pdln", "Failed", type="DAG", displayName="churn-model-4pdln", templateName="pipeline")
    wf.node("churn-model-4pdln-4175283592", "Failed", parent="churn-model-4pdln", displayName="train",
            templateName="train-model", boundaryID="churn-model-4pdln", message="Error (exit code 1)")  # fmt: skip
    wf.obj["status"]["message"] = "child 'churn-model-4pdln-4175283592' failed"
    run = translate_workflow(wf.phase("Failed").event()["object"]).run
    assert run.message == "child 'churn-model-4pdln-4175283592' failed"
    assert run.failed_step.failure == "child 'train' (template train-model) failed: Error (exit code 1)"


def test_a_failure_without_a_message_says_which_step_failed():
    run = translated("retry-omit.yaml")
    assert run.failed_step.failure == "step 'C' (template fail) failed: failed with exit code 1"
