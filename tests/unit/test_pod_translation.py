"""Pods Argo creates for workflow steps -> PodObservation.

The pods here are shaped like the ones an Argo 3.5 controller creates and the API server returns
(labels, node annotations, the controller owner reference, `init` + `wait` + `main` containers,
kubelet-written status), then varied the way real clusters vary them. Hashes in names and node ids
are written out as literals, not computed with the function under test; the test over the shared
fixtures checks the node-id derivation against ids Argo itself wrote.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from runledger.agent.pod_facts import node_id_for, translate_pod
from runledger.agent.translate import TranslationError, run_id_for
from runledger.core.run_state import PodObservation
from tests.support.real_objects import fixture_files
from tests.support.workflows import load, raw_nodes

WF = "churn-x7k2p"
WF_UID = "5c0b7d1e-3f4a-4b6c-8d9e-0a1b2c3d4e5f"
POD_UID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
NODE_NAME = "churn-x7k2p.train"
NODE_ID = "churn-x7k2p-1796314416"  # fnv32a("churn-x7k2p.train"), as Argo's Workflow.NodeID
POD_NAME = "churn-x7k2p-train-1796314416"  # v2: <workflow>-<template>-<fnv32a(node name)>
EXECUTOR = "quay.io/argoproj/argoexec:v3.5.8"
IMAGE = "registry.example.com/ml/churn-train:1.4.2"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def succeeded_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": POD_NAME,
            "namespace": "ml",
            "uid": POD_UID,
            "resourceVersion": "48213377",
            "creationTimestamp": "2024-05-14T09:00:01Z",
            "labels": {
                "workflows.argoproj.io/completed": "true",
                "workflows.argoproj.io/workflow": WF,
            },
            "annotations": {
                "kubectl.kubernetes.io/default-container": "main",
                "workflows.argoproj.io/node-id": NODE_ID,
                "workflows.argoproj.io/node-name": NODE_NAME,
            },
            "ownerReferences": [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Workflow",
                    "name": WF,
                    "uid": WF_UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "initContainers": [
                {
                    "name": "init",
                    "image": EXECUTOR,
                    "command": ["argoexec", "init", "--loglevel", "info", "--log-format", "text"],
                    "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
                }
            ],
            # Argo puts the wait container first; the main container is found by name, not position.
            "containers": [
                {
                    "name": "wait",
                    "image": EXECUTOR,
                    "command": ["argoexec", "wait", "--loglevel", "info", "--log-format", "text"],
                    "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
                },
                {
                    "name": "main",
                    "image": IMAGE,
                    "command": ["/var/run/argo/argoexec", "emissary", "--loglevel", "info", "--", "python"],
                    "args": ["train.py", "--epochs", "20"],
                    "env": [{"name": "ARGO_CONTAINER_NAME", "value": "main"}],
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                        "limits": {"memory": "2Gi", "nvidia.com/gpu": "1"},
                    },
                },
            ],
            "nodeName": "gke-ml-pool-2-8c1f7d3a-x9qz",
            "restartPolicy": "Never",
            "serviceAccountName": "pipeline-runner",
        },
        "status": {
            "phase": "Succeeded",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "False", "lastTransitionTime": "2024-05-14T09:07:45Z"},
                {
                    "type": "Initialized",
                    "status": "True",
                    "lastTransitionTime": "2024-05-14T09:00:09Z",
                    "reason": "PodCompleted",
                },
                {
                    "type": "Ready",
                    "status": "False",
                    "lastTransitionTime": "2024-05-14T09:07:44Z",
                    "reason": "PodCompleted",
                },
                {
                    "type": "ContainersReady",
                    "status": "False",
                    "lastTransitionTime": "2024-05-14T09:07:44Z",
                    "reason": "PodCompleted",
                },
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2024-05-14T09:00:02Z"},
            ],
            "hostIP": "10.128.0.41",
            "podIP": "10.4.3.17",
            "startTime": "2024-05-14T09:00:02Z",
            "initContainerStatuses": [
                {
                    "name": "init",
                    "image": EXECUTOR,
                    "imageID": "quay.io/argoproj/argoexec@sha256:1b2c",
                    "ready": True,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": "2024-05-14T09:00:07Z",
                            "finishedAt": "2024-05-14T09:00:08Z",
                            "containerID": "containerd://aa01",
                        }
                    },
                    "lastState": {},
                }
            ],
            # The kubelet lists container statuses by name, so main comes before wait.
            "containerStatuses": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "imageID": "registry.example.com/ml/churn-train@sha256:9f8e",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": "2024-05-14T09:00:10Z",
                            "finishedAt": "2024-05-14T09:07:41Z",
                            "containerID": "containerd://bb02",
                        }
                    },
                    "lastState": {},
                },
                {
                    "name": "wait",
                    "image": EXECUTOR,
                    "imageID": "quay.io/argoproj/argoexec@sha256:1b2c",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": "2024-05-14T09:00:09Z",
                            "finishedAt": "2024-05-14T09:07:43Z",
                            "containerID": "containerd://cc03",
                        }
                    },
                    "lastState": {},
                },
            ],
            "qosClass": "Burstable",
        },
    }


def main_status(pod: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in pod["status"]["containerStatuses"] if s["name"] == "main")


def oom_killed_pod() -> dict[str, Any]:
    pod = succeeded_pod()
    pod["status"]["phase"] = "Failed"
    main_status(pod)["state"] = {
        "terminated": {
            "exitCode": 137,
            "reason": "OOMKilled",
            "startedAt": "2024-05-14T09:00:10Z",
            "finishedAt": "2024-05-14T09:03:12Z",
            "containerID": "containerd://bb02",
        }
    }
    return pod


def evicted_pod() -> dict[str, Any]:
    # What the kubelet leaves after evicting a pod whose containers had not started.
    pod = succeeded_pod()
    pod["metadata"]["labels"]["workflows.argoproj.io/completed"] = "false"
    pod["status"] = {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 9Gi. ",
        "startTime": "2024-05-14T09:00:02Z",
    }
    return pod


def pending_pod() -> dict[str, Any]:
    # As first seen by a watch: created by the controller, not yet scheduled.
    pod = succeeded_pod()
    pod["metadata"]["labels"]["workflows.argoproj.io/completed"] = "false"
    del pod["spec"]["nodeName"]
    del pod["status"]
    return pod


def test_succeeded_pod_records_identity_main_container_outcome_and_times():
    obs = translate_pod(succeeded_pod())
    assert obs == PodObservation(
        run_id=WF_UID,
        namespace="ml",
        workflow_name=WF,
        node_id=NODE_ID,
        pod_name=POD_NAME,
        pod_uid=POD_UID,
        phase="Succeeded",
        host_node="gke-ml-pool-2-8c1f7d3a-x9qz",
        image=IMAGE,
        exit_code=0,
        termination_reason="Completed",
        restart_count=0,
        requests={"cpu": "500m", "memory": "1Gi"},
        limits={"memory": "2Gi", "nvidia.com/gpu": "1"},
        scheduled_at=utc("2024-05-14T09:00:02Z"),
        started_at=utc("2024-05-14T09:00:10Z"),
        finished_at=utc("2024-05-14T09:07:41Z"),
        resource_version="48213377",
        deleted=False,
    )


def test_oom_killed_main_container_gives_exit_code_137_and_reason_oomkilled():
    obs = translate_pod(oom_killed_pod())
    assert (obs.phase, obs.exit_code, obs.termination_reason) == ("Failed", 137, "OOMKilled")
    assert obs.finished_at == utc("2024-05-14T09:03:12Z")


def test_oom_kill_seen_in_last_state_counts_while_the_container_waits_to_restart():
    pod = oom_killed_pod()
    status = main_status(pod)
    status["lastState"], status["restartCount"] = status["state"], 3
    status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}
    pod["status"]["phase"] = "Running"
    obs = translate_pod(pod)
    assert (obs.exit_code, obs.termination_reason, obs.restart_count) == (137, "OOMKilled", 3)


def test_a_running_restarted_container_reports_restarts_but_no_outcome_yet():
    pod = oom_killed_pod()
    status = main_status(pod)
    status["lastState"], status["restartCount"] = status["state"], 2
    status["state"] = {"running": {"startedAt": "2024-05-14T09:05:00Z"}}
    pod["status"]["phase"] = "Running"
    obs = translate_pod(pod)
    assert obs.restart_count == 2
    assert (obs.exit_code, obs.termination_reason, obs.finished_at) == (None, None, None)
    assert obs.started_at == utc("2024-05-14T09:05:00Z")


def test_restarts_of_the_wait_container_are_not_counted_as_the_steps():
    pod = succeeded_pod()
    next(s for s in pod["status"]["containerStatuses"] if s["name"] == "wait")["restartCount"] = 5
    main_status(pod)["restartCount"] = 1
    assert translate_pod(pod).restart_count == 1


def test_evicted_pod_without_container_statuses_is_recorded_with_reason_evicted():
    obs = translate_pod(evicted_pod())
    assert (obs.phase, obs.termination_reason, obs.exit_code) == ("Failed", "Evicted", None)
    assert obs.node_id == NODE_ID and obs.image == IMAGE
    assert obs.started_at == utc("2024-05-14T09:00:02Z")  # falls back to status.startTime
    assert obs.scheduled_at is None and obs.finished_at is None


def test_pod_level_reason_wins_over_the_killed_containers_own_reason():
    pod = oom_killed_pod()
    pod["status"]["reason"] = "Evicted"
    main_status(pod)["state"]["terminated"]["reason"] = "Error"
    obs = translate_pod(pod)
    assert (obs.termination_reason, obs.exit_code) == ("Evicted", 137)


def test_pending_pod_without_status_keeps_identity_and_spec_and_leaves_the_rest_empty():
    obs = translate_pod(pending_pod())
    assert (obs.run_id, obs.node_id, obs.image) == (WF_UID, NODE_ID, IMAGE)
    assert obs.requests == {"cpu": "500m", "memory": "1Gi"}
    assert (obs.phase, obs.host_node, obs.exit_code, obs.termination_reason) == (None, None, None, None)
    assert (obs.scheduled_at, obs.started_at, obs.finished_at, obs.restart_count) == (None, None, None, 0)


def test_unschedulable_pod_has_no_scheduled_time():
    pod = pending_pod()
    pod["status"] = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastTransitionTime": "2024-05-14T09:00:02Z",
                "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
            }
        ],
    }
    obs = translate_pod(pod)
    assert obs.phase == "Pending" and obs.scheduled_at is None


def test_requests_and_limits_of_the_main_container_are_captured_not_the_executors():
    pod = succeeded_pod()
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}
    obs = translate_pod(pod)
    assert obs.requests == {"cpu": "500m", "memory": "1Gi"}
    assert obs.limits == {"memory": "2Gi", "nvidia.com/gpu": "1"}


def test_yaml_loaded_numeric_quantities_become_strings_and_garbage_quantities_are_dropped():
    pod = succeeded_pod()
    pod["spec"]["containers"][1]["resources"] = {"requests": {"cpu": 2, "memory": {"x": 1}}, "limits": "8Gi"}
    obs = translate_pod(pod)
    assert obs.requests == {"cpu": "2"}
    assert obs.limits == {}


def test_v1_pod_name_is_the_node_id_when_no_node_id_annotation_exists():
    # Argo 2.x/3.0 pod: v1 name (the node id), only the node-name annotation.
    pod = succeeded_pod()
    pod["metadata"]["name"] = "legacy-4kq9z-3943675052"
    pod["metadata"]["labels"]["workflows.argoproj.io/workflow"] = "legacy-4kq9z"
    pod["metadata"]["ownerReferences"][0]["name"] = "legacy-4kq9z"
    pod["metadata"]["annotations"] = {"workflows.argoproj.io/node-name": "legacy-4kq9z[0].fetch"}
    assert translate_pod(pod).node_id == "legacy-4kq9z-3943675052"
    del pod["metadata"]["annotations"]
    assert translate_pod(pod).node_id == "legacy-4kq9z-3943675052"


def test_root_pod_of_a_single_template_workflow_is_named_after_the_workflow_and_is_its_node():
    pod = succeeded_pod()
    pod["metadata"]["name"] = WF
    del pod["metadata"]["annotations"]
    assert translate_pod(pod).node_id == WF
    pod["metadata"]["annotations"] = {"workflows.argoproj.io/node-name": WF}
    assert translate_pod(pod).node_id == WF


def test_v2_pod_with_only_the_node_name_annotation_maps_through_argos_node_id_hash():
    pod = succeeded_pod()
    del pod["metadata"]["annotations"]["workflows.argoproj.io/node-id"]
    assert translate_pod(pod).node_id == NODE_ID
    pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"] = "churn-x7k2p.train(0)"
    assert translate_pod(pod).node_id == "churn-x7k2p-1718430803"


def test_node_id_annotation_is_taken_as_is_even_when_the_name_would_hash_differently():
    pod = succeeded_pod()
    pod["metadata"]["annotations"]["workflows.argoproj.io/node-id"] = "churn-x7k2p-42"
    assert translate_pod(pod).node_id == "churn-x7k2p-42"


def test_v2_pod_name_without_any_node_annotation_cannot_be_mapped():
    pod = succeeded_pod()
    del pod["metadata"]["annotations"]
    with pytest.raises(TranslationError, match=rf"ml/{POD_NAME}: cannot map .* node"):
        translate_pod(pod)


@pytest.mark.parametrize("suffix", ["4294967296", "0123", "12a", ""])
def test_names_that_only_look_like_v1_pod_names_are_not_taken_for_node_ids(suffix):
    pod = succeeded_pod()
    pod["metadata"]["name"] = f"{WF}-{suffix}"
    del pod["metadata"]["annotations"]
    with pytest.raises(TranslationError, match="cannot map"):
        translate_pod(pod)


POD_NODES = [
    (path, node)
    for path in fixture_files()
    for node in raw_nodes(load(path)).values()
    if node.get("type") == "Pod"
]


@pytest.mark.parametrize(
    ("path", "node"), POD_NODES, ids=[f"{p.parent.name}/{p.name}:{n['id']}" for p, n in POD_NODES]
)
def test_node_id_derived_from_node_name_equals_the_id_argo_wrote_in_real_workflows(path, node):
    workflow_name = load(path)["metadata"]["name"]
    assert node_id_for(workflow_name, node["name"]) == node["id"]


def test_the_real_fixtures_hold_enough_pod_nodes_to_trust_the_derivation():
    assert len(POD_NODES) >= 50


def test_pod_with_foreign_labels_is_rejected_naming_the_pod():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d4b9c8f6-q2xkp",
            "namespace": "shop",
            "uid": "1f2e3d4c-0000-4000-8000-000000000001",
            "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-7d4b9c8f6",
                    "uid": "1f2e3d4c-0000-4000-8000-000000000002",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], "nodeName": "node-1"},
        "status": {"phase": "Running"},
    }
    with pytest.raises(TranslationError, match=r"shop/web-7d4b9c8f6-q2xkp: not a pod of an Argo workflow"):
        translate_pod(pod)


def test_workflow_kind_of_another_api_group_does_not_make_a_pod_argos():
    pod = succeeded_pod()
    del pod["metadata"]["labels"]["workflows.argoproj.io/workflow"]
    pod["metadata"]["ownerReferences"][0]["apiVersion"] = "example.com/v1"
    with pytest.raises(TranslationError, match="not a pod of an Argo workflow"):
        translate_pod(pod)


def test_workflow_owner_reference_alone_is_enough_to_name_the_workflow():
    pod = succeeded_pod()
    del pod["metadata"]["labels"]["workflows.argoproj.io/workflow"]
    obs = translate_pod(pod)
    assert (obs.workflow_name, obs.run_id) == (WF, WF_UID)


def test_label_naming_another_workflow_than_the_owner_is_rejected():
    pod = succeeded_pod()
    pod["metadata"]["labels"]["workflows.argoproj.io/workflow"] = "other-abcde"
    with pytest.raises(TranslationError, match=r"ml/churn-x7k2p-train-1796314416: label .* disagrees"):
        translate_pod(pod)


@pytest.mark.parametrize("component", ["agent", "artifact-gc"])
def test_argo_agent_and_artifact_gc_pods_are_not_step_pods(component):
    pod = succeeded_pod()
    pod["metadata"]["name"] = f"{WF}-1340600742-agent"
    pod["metadata"]["labels"]["workflows.argoproj.io/component"] = component
    pod["metadata"]["annotations"] = {"kubectl.kubernetes.io/default-container": "main"}
    with pytest.raises(TranslationError, match=f"'{component}' pod of workflow {WF}, not a step pod"):
        translate_pod(pod)


def test_hand_made_pod_without_owner_reference_gets_the_runs_stable_id():
    pod = succeeded_pod()
    del pod["metadata"]["ownerReferences"]
    obs = translate_pod(pod)
    assert obs.run_id == run_id_for({"namespace": "ml", "name": WF})
    assert uuid.UUID(obs.run_id).version == 5


def test_owner_reference_without_uid_also_falls_back_to_the_stable_id():
    pod = succeeded_pod()
    del pod["metadata"]["ownerReferences"][0]["uid"]
    assert translate_pod(pod).run_id == run_id_for({"namespace": "ml", "name": WF})


def test_deleted_flag_and_resource_version_pass_through():
    pod = succeeded_pod()
    pod["metadata"]["resourceVersion"] = 48213399  # YAML-loaded
    obs = translate_pod(pod, deleted=True)
    assert (obs.deleted, obs.resource_version) == (True, "48213399")


def test_single_container_pod_without_a_main_container_uses_the_first_non_executor_container():
    pod = succeeded_pod()
    pod["spec"]["containers"] = [
        {"name": "wait", "image": EXECUTOR},
        {"name": "trainer", "image": "trainer:2", "resources": {"limits": {"cpu": "4"}}},
    ]
    status = main_status(pod)
    status["name"] = "trainer"
    status["state"]["terminated"].update(exitCode=2, reason="Error")
    obs = translate_pod(pod)
    assert (obs.image, obs.limits, obs.exit_code, obs.termination_reason) == ("trainer:2", {"cpu": "4"}, 2, "Error")


@pytest.mark.parametrize(
    "bad",
    ["not a pod", None, [], {"kind": "Workflow", "metadata": {"name": "x"}}, {"kind": "Pod"}, {"metadata": {}}],
)
def test_objects_that_are_not_pods_raise_translation_error(bad):
    with pytest.raises(TranslationError):
        translate_pod(bad)


WRONG_TYPES = [None, 7, True, "text", [], {}, [{"x": 1}]]
PATHS = [
    ("spec",),
    ("status",),
    ("spec", "containers"),
    ("spec", "nodeName"),
    ("status", "containerStatuses"),
    ("status", "conditions"),
    ("status", "phase"),
    ("status", "reason"),
    ("status", "startTime"),
    ("metadata", "labels"),
    ("metadata", "annotations"),
    ("metadata", "ownerReferences"),
    ("metadata", "uid"),
    ("spec", "containers", 1, "resources"),
    ("spec", "containers", 1, "image"),
    ("status", "containerStatuses", 0, "state"),
    ("status", "containerStatuses", 0, "state", "terminated"),
    ("status", "containerStatuses", 0, "state", "terminated", "exitCode"),
    ("status", "containerStatuses", 0, "state", "terminated", "finishedAt"),
    ("status", "containerStatuses", 0, "restartCount"),
    ("status", "conditions", 4, "lastTransitionTime"),
]


@pytest.mark.parametrize("path", PATHS, ids=[".".join(map(str, p)) for p in PATHS])
def test_wrong_types_anywhere_are_treated_as_missing_and_never_raise_anything_else(path):
    for wrong in WRONG_TYPES:
        pod = copy.deepcopy(succeeded_pod())
        target = pod
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = wrong
        try:
            obs = translate_pod(pod)
        except TranslationError:
            continue
        assert isinstance(obs, PodObservation)
        assert obs.restart_count >= 0


def test_wrong_typed_exit_code_and_restart_count_are_missing_not_coerced_from_booleans():
    pod = succeeded_pod()
    main_status(pod)["state"]["terminated"]["exitCode"] = True
    main_status(pod)["restartCount"] = True
    obs = translate_pod(pod)
    assert (obs.exit_code, obs.restart_count) == (None, 0)
