"""Indexing artifacts from tests: workflows that produce them, and an indexer run to completion."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from runledger.core.settings import Settings
from runledger.indexer.worker import ArtifactIndexer
from runledger.service import build_indexer
from tests.support.builders import WorkflowBuilder


@contextlib.asynccontextmanager
async def indexing(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[ArtifactIndexer]:
    async with build_indexer(pool=pool, settings=settings, poll_seconds=0.02, grace=5) as indexer:
        yield indexer


async def index_everything(pool: asyncpg.Pool, settings: Settings) -> ArtifactIndexer:
    async with indexing(pool, settings) as indexer:
        await indexer.wait_drained()
    return indexer


def producing_workflow(name: str, key: str, *, artifact: str = "model", bucket: str = "mlpipeline") -> dict:
    """A finished one-step workflow whose step wrote `key` as output artifact `artifact`."""
    wf = WorkflowBuilder(name=name)
    wf.node(f"{name}-1", "Succeeded", outputs={"artifacts": [
        {"name": artifact, "path": "/tmp/out", "s3": {"bucket": bucket, "key": key, "endpoint": "minio:9000", "insecure": True}},
    ]})  # fmt: skip
    return wf.phase("Succeeded").event()


def kfp_step_workflow(name: str, outputs: dict[str, str], *, namespace: str = "ml", params: dict[str, str] | None = None) -> dict:
    """A KFP v1 step that produced the given output artifacts (name -> key), stored as Argo tgz files."""
    wf = WorkflowBuilder(name=name, namespace=namespace)
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "trainer"
    if params:
        wf.obj["spec"]["arguments"]["parameters"] = [{"name": k, "value": v} for k, v in params.items()]
    arts = [{"name": n, "path": f"/tmp/{n}.json", "s3": {"bucket": "mlpipeline", "key": k, "endpoint": "minio-service.kubeflow:9000", "insecure": True}}
            for n, k in outputs.items()]  # fmt: skip
    wf.node(f"{name}-train", "Succeeded", outputs={"artifacts": arts})
    return wf.phase("Succeeded").event()
