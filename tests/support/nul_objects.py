"""A real workflow, and its step's pod, holding NUL characters where clusters have put them: names,
parameter values, messages, labels."""

from __future__ import annotations

from typing import Any

from tests.support.argo_database import as_stored
from tests.support.pods import pod_of_step
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

FIXTURE = FIXTURES / "argo" / "util_test__workflow-retry.yaml"
POD_NODE = "workflow-retry-1861571805"
UID = "5f0c1b7e-0b4e-4a8f-9a51-6e0d2a4c9f31"


def _stored() -> dict[str, Any]:
    obj = as_stored(load(FIXTURE))
    obj["metadata"]["uid"] = UID  # an archive row and a pod's owner need it
    return obj


def workflow_with_nul(*, message: str = "No more\x00 retries left") -> dict[str, Any]:
    """The fixture as a controller writes it, a NUL in a label, a node's name and message, and a parameter."""
    obj = _stored()
    obj["metadata"]["labels"]["team\x00"] = "ml\x00"
    node = obj["status"]["nodes"][POD_NODE]
    node["name"] += "\x00"
    node["message"] = message
    node["outputs"].setdefault("parameters", []).append({"name": "p\x00", "value": "v\x00"})
    return obj


def pod_with_nul() -> dict[str, Any]:
    """The pod of the fixture's step, a NUL in its node name."""
    workflow = _stored()
    pod = as_stored(pod_of_step(workflow, workflow["status"]["nodes"][POD_NODE]))
    pod["spec"]["nodeName"] = "node\x001"
    return pod
