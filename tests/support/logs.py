"""Workflows whose steps archived their logs to S3, as Argo's archiveLogs does."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp

from tests.support.builders import WorkflowBuilder
from tests.support.processes import free_port, running, until_ready
from tests.support.s3 import ACCESS_KEY, SECRET_KEY


def logging_workflow(name: str, logs: dict[str, str], *, namespace: str = "ml", bucket: str = "my-bucket") -> dict:
    """A finished workflow whose steps (node id -> S3 key) each archived a `main-logs` artifact."""
    wf = WorkflowBuilder(name=name, namespace=namespace)
    for node_id, key in logs.items():
        wf.node(node_id, "Succeeded", displayName=node_id.rsplit("-", 1)[-1], outputs=archived_log(key, bucket=bucket))
    wf.node(f"{name}-nolog", "Succeeded", displayName="nolog")
    return wf.phase("Succeeded").event()


def archived_log(key: str, *, bucket: str = "my-bucket") -> dict:
    """A node's outputs holding the log Argo archived at `key`."""
    return {"artifacts": [{"name": "main-logs", "archiveLogs": True,
                           "s3": {"bucket": bucket, "key": key, "endpoint": "minio:9000", "insecure": True}}]}  # fmt: skip


@contextlib.asynccontextmanager
async def api_serving_logs(*, dsn: str, s3_url: str, log_max_bytes: int) -> AsyncIterator[str]:
    """`runledger api` as a process of its own over `dsn`, reading logs from the S3 at `s3_url` (as
    `minio:9000`, the endpoint `logging_workflow` names) at most `log_max_bytes` per answer; its URL."""
    port = free_port()
    env = {
        "RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_HOST": "127.0.0.1", "RUNLEDGER_API_PORT": str(port),
        "RUNLEDGER_ARTIFACTS_ENDPOINT_MAP": json.dumps({"minio:9000": s3_url}),
        "RUNLEDGER_ARTIFACTS_ACCESS_KEY_ID": ACCESS_KEY, "RUNLEDGER_ARTIFACTS_SECRET_ACCESS_KEY": SECRET_KEY,
        "RUNLEDGER_API_LOG_MAX_BYTES": str(log_max_bytes),
    }  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with running("api", env=env), aiohttp.ClientSession(url) as http:
        await until_ready(http)
        yield url
