"""The pod an Argo controller creates for a Pod node of a real workflow, as the API server returns it once the
step has run: what ties it to its node (label, annotations, owner reference), `wait` and `main` containers, and
kubelet-written status with the node's times and exit code."""

from __future__ import annotations

from typing import Any

from runledger.agent.translate import fnv32a

EXECUTOR = "quay.io/argoproj/argoexec:v3.5.8"


def pod_of_step(workflow: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    meta = workflow["metadata"]
    name, started, finished = meta["name"], node["startedAt"], node["finishedAt"]
    exit_code = int(node.get("outputs", {}).get("exitCode", 0))
    owner = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": name, "controller": True}
    if meta.get("uid"):
        owner["uid"] = meta["uid"]
    terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                  "startedAt": started, "finishedAt": finished}  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{node['templateName']}-{fnv32a(node['name'].encode())}",
            "namespace": meta.get("namespace", "default"),
            "uid": f"pod-{node['id']}",
            "resourceVersion": "48213377",
            "labels": {"workflows.argoproj.io/workflow": name, "workflows.argoproj.io/completed": "true"},
            "annotations": {"workflows.argoproj.io/node-id": node["id"], "workflows.argoproj.io/node-name": node["name"]},
            "ownerReferences": [owner],
        },
        "spec": {
            "containers": [
                {"name": "wait", "image": EXECUTOR},
                {"name": "main", "image": "alpine:3.23", "resources": {"requests": {"cpu": "100m"}}},
            ],
            "nodeName": node.get("hostNodeName", "node1"),
            "restartPolicy": "Never",
        },
        "status": {
            "phase": node["phase"],
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": started}],
            "startTime": started,
            "containerStatuses": [
                {"name": "wait", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "main", "restartCount": 0, "state": {"terminated": terminated}},
            ],
        },
    }
