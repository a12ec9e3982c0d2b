"""Translation rules that the fixtures do not all exercise: ids, names, KFP metadata, bad input."""

from __future__ import annotations

import base64
import gzip
import uuid

import pytest

from runledger.agent.translate import TranslationError, fnv32a, translate_workflow


def wf(**overrides):
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf-abc12", "namespace": "ml", "uid": "0b0f8f4e-1111-4222-8333-944445555666"},
        "spec": {},
        "status": {"phase": "Running", "nodes": {}},
    }
    obj.update(overrides)
    return obj


def test_fnv32a_matches_argo_pod_name_hash_vectors():
    # Vectors from Argo's pod-name tests.
    assert fnv32a(b"hello") == 1335831723
    assert fnv32a(b"world") == 933488787


def test_v2_pod_name_is_workflow_template_and_hash_of_node_name():
    obj = wf(status={"nodes": {"n1": {"id": "n1", "name": "wf-abc12.step", "type": "Pod", "templateName": "train"}}})
    obj["metadata"]["annotations"] = {"workflows.argoproj.io/pod-name-format": "v2"}
    (step,) = translate_workflow(obj).steps
    assert step.pod_name == f"wf-abc12-train-{fnv32a(b'wf-abc12.step')}"


def test_v1_pod_name_is_the_node_id():
    obj = wf(status={"nodes": {"n1": {"id": "wf-abc12-123", "name": "wf-abc12.step", "type": "Pod", "templateName": "t"}}})
    obj["metadata"]["annotations"] = {"workflows.argoproj.io/pod-name-format": "v1"}
    assert translate_workflow(obj).steps[0].pod_name == "wf-abc12-123"


def test_object_without_uid_gets_a_stable_id_from_namespace_and_name():
    obj = wf()
    del obj["metadata"]["uid"]
    first, second = translate_workflow(obj).run.id, translate_workflow(wf(metadata={"name": "wf-abc12", "namespace": "ml"})).run.id
    assert first == second
    assert uuid.UUID(first).version == 5


def test_kfp_run_id_pipeline_name_and_schedule_come_from_labels_and_annotations():
    obj = wf()
    obj["metadata"]["labels"] = {
        "pipeline/runid": "run-42",
        "scheduledworkflows.kubeflow.org/scheduledWorkflowName": "nightly",
    }
    obj["metadata"]["annotations"] = {"pipelines.kubeflow.org/pipeline_spec": '{"name": "churn"}'}
    run = translate_workflow(obj).run
    assert (run.kfp_run_id, run.pipeline_name, run.scheduled_workflow) == ("run-42", "churn", "nightly")


def test_argo_cron_and_template_labels_name_the_owner_and_pipeline():
    obj = wf()
    obj["metadata"]["labels"] = {
        "workflows.argoproj.io/cron-workflow": "hourly",
        "workflows.argoproj.io/workflow-template": "etl",
    }
    run = translate_workflow(obj).run
    assert (run.pipeline_name, run.scheduled_workflow) == ("etl", "hourly")


def test_non_string_label_values_are_stored_as_strings():
    obj = wf()
    obj["metadata"]["labels"] = {"argo-e2e": True, "n": 3}
    assert translate_workflow(obj).run.labels == {"argo-e2e": "true", "n": "3"}


@pytest.mark.parametrize(
    "obj, reason",
    [
        ("not an object", "expected a Workflow object"),
        ({"kind": "Pod", "metadata": {"name": "p"}}, "is not a Workflow"),
        ({"apiVersion": "v1", "metadata": {"name": "p"}}, "is not argoproj.io"),
        ({"kind": "Workflow", "spec": {}}, "metadata is missing"),
        ({"kind": "Workflow", "metadata": {"namespace": "x"}}, "both missing"),
        (wf(status={"compressedNodes": "!!!not base64"}), "compressedNodes"),
        (wf(status={"compressedNodes": base64.b64encode(b"plain").decode()}), "compressedNodes"),
        (wf(status={"compressedNodes": base64.b64encode(gzip.compress(b"[1,2]")).decode()}), "node map"),
    ],
)
def test_objects_that_cannot_be_workflows_raise_a_clear_error(obj, reason):
    with pytest.raises(TranslationError, match=reason):
        translate_workflow(obj)


def test_unknown_node_types_and_phases_are_kept_and_reported():
    obj = wf(status={"phase": "Exploded", "nodes": {"n": {"id": "n", "name": "n", "type": "Quantum", "phase": "Weird"}}})
    state = translate_workflow(obj)
    assert state.steps[0].type == "Quantum" and state.steps[0].phase == "Weird"
    kinds = {w.split(":")[0] for w in state.warnings}
    assert {"unknown_node_type", "unknown_phase"} <= kinds


def test_a_workflow_without_status_is_recorded_without_steps():
    obj = wf()
    del obj["status"]
    state = translate_workflow(obj)
    assert state.steps == () and state.run.phase == ""
    assert any(w.startswith("no_status") for w in state.warnings)


def test_absurdly_large_parameter_values_are_truncated_and_flagged():
    big = "x" * 1_000_000
    obj = wf(spec={"arguments": {"parameters": [{"name": "blob", "value": big}]}})
    state = translate_workflow(obj, max_value_bytes=1024)
    (param,) = state.parameters
    assert param.truncated and len(param.value.encode()) == 1024
    assert any(w.startswith("truncated") for w in state.warnings)


def test_malformed_nodes_are_skipped_with_a_warning_and_others_kept():
    obj = wf(status={"nodes": {"bad": "nope", "ok": {"id": "ok", "name": "ok", "type": "Pod", "phase": "Running"}}})
    state = translate_workflow(obj)
    assert [s.id for s in state.steps] == ["ok"]
    assert any(w.startswith("malformed_node") for w in state.warnings)


def test_key_only_artifacts_take_bucket_and_endpoint_from_the_workflow_repository():
    node = {"id": "n", "name": "n", "type": "Pod", "outputs": {"artifacts": [{"name": "out", "s3": {"key": "a/b.tgz"}}]}}
    obj = wf(status={"nodes": {"n": node}, "artifactRepositoryRef": {"artifactRepository": {"s3": {"bucket": "mlpipeline", "endpoint": "minio:9000"}}}})
    (art,) = translate_workflow(obj).artifacts
    assert (art.s3_bucket, art.s3_endpoint, art.location_source, art.uri) == (
        "mlpipeline", "minio:9000", "workflow-repository", "s3://mlpipeline/a/b.tgz")  # fmt: skip


def test_key_only_artifacts_without_a_repository_are_marked_unresolved():
    node = {"id": "n", "name": "n", "type": "Pod", "outputs": {"artifacts": [{"name": "out", "s3": {"key": "k"}}]}}
    (art,) = translate_workflow(wf(status={"nodes": {"n": node}})).artifacts
    assert art.location_source == "unresolved" and art.uri is None
