"""Small hand-made Workflow objects for rules the real fixtures don't isolate."""

from __future__ import annotations

import copy
from typing import Any


class WorkflowBuilder:
    """A workflow whose nodes change phase step by step; every snapshot is a full object."""

    def __init__(self, name: str = "wf-abcde", namespace: str = "ml", uid: str | None = None) -> None:
        self.rv = 100
        self.obj: dict[str, Any] = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": uid or f"uid-{name}",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "resourceVersion": str(self.rv),
                "labels": {"pipeline/runid": f"kfp-{name}"},
            },
            "spec": {"arguments": {"parameters": [{"name": "lr", "value": "0.1"}]}},
            "status": {"phase": "Pending", "nodes": {}},
        }

    def phase(self, phase: str, at: str = "2026-01-01T00:00:05Z") -> WorkflowBuilder:
        status = self.obj["status"]
        status["phase"] = phase
        if phase == "Running":
            status["startedAt"] = at
        elif phase in ("Succeeded", "Failed", "Error"):
            status["finishedAt"] = at
        return self

    def node(self, node_id: str, phase: str, *, parent: str | None = None, at: str = "2026-01-01T00:00:10Z", **extra) -> WorkflowBuilder:
        nodes = self.obj["status"]["nodes"]
        node = nodes.setdefault(node_id, {"id": node_id, "name": f"{self.obj['metadata']['name']}.{node_id}",
                                           "type": "Pod", "templateName": "t", "startedAt": at})  # fmt: skip
        node["phase"] = phase
        if phase in ("Succeeded", "Failed", "Error"):
            node["finishedAt"] = at
        node.update(extra)
        if parent is not None:
            children = nodes[parent].setdefault("children", [])
            if node_id not in children:
                children.append(node_id)
        return self

    def event(self, event_type: str = "MODIFIED", *, resource_version: int | str | None = None) -> dict[str, Any]:
        """A snapshot under the next resourceVersion, or under `resource_version` when given."""
        self.rv += 1
        self.obj["metadata"]["resourceVersion"] = str(self.rv if resource_version is None else resource_version)
        return {"type": event_type, "object": copy.deepcopy(self.obj)}


def pod_of(wf: WorkflowBuilder, node_id: str, *, resource_version: str, restarts: int = 0) -> dict[str, Any]:
    """The Pod Argo would create for `node_id` of `wf` (owned by the workflow's uid)."""
    meta = wf.obj["metadata"]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-{node_id}", "namespace": meta["namespace"], "uid": f"pod-{node_id}",
            "resourceVersion": resource_version, "labels": {"workflows.argoproj.io/workflow": meta["name"]},
            "annotations": {"workflows.argoproj.io/node-id": node_id},
            "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True}],
        },
        "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "python:3.12"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "main", "restartCount": restarts, "state": {"running": {}}}]},
    }  # fmt: skip
