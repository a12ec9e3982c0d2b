"""Workflows whose steps archived their logs to S3, as Argo's archiveLogs does."""

from __future__ import annotations

from tests.support.builders import WorkflowBuilder


def logging_workflow(name: str, logs: dict[str, str], *, namespace: str = "ml", bucket: str = "my-bucket") -> dict:
    """A finished workflow whose steps (node id -> S3 key) each archived a `main-logs` artifact."""
    wf = WorkflowBuilder(name=name, namespace=namespace)
    for node_id, key in logs.items():
        wf.node(node_id, "Succeeded", displayName=node_id.rsplit("-", 1)[-1], outputs={"artifacts": [
            {"name": "main-logs", "archiveLogs": True,
             "s3": {"bucket": bucket, "key": key, "endpoint": "minio:9000", "insecure": True}},
        ]})  # fmt: skip
    wf.node(f"{name}-nolog", "Succeeded", displayName="nolog")
    return wf.phase("Succeeded").event()
