"""Artifact repositories read from the cluster's ConfigMaps, through real kubernetes-asyncio clients."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from runledger.agent.repository_configmaps import ClusterRepositories
from runledger.core.artifact_locations import RepositoryRegistry, S3Repository
from tests.support.agent import agent_settings, running_agent, settled
from tests.support.builders import WorkflowBuilder
from tests.support.kube_double import KubeDouble
from tests.support.waiting import eventually

CONTROLLER_REPOSITORY = """
archiveLogs: true
s3:
  bucket: argo-artifacts
  endpoint: minio.argo:9000
  insecure: true
  accessKeySecret: {name: argo-artifacts, key: accesskey}
  secretKeySecret: {name: argo-artifacts, key: secretkey}
"""


@pytest.fixture
async def double():
    async with KubeDouble() as d:
        yield d


def configmap(namespace: str, name: str, data: dict[str, str], annotations: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": namespace, "name": name, "annotations": annotations or {}},
        "data": data,
    }


def key_only_workflow(name: str, namespace: str, ref: dict | None) -> WorkflowBuilder:
    wf = WorkflowBuilder(name=name, namespace=namespace)
    wf.obj["metadata"].pop("uid")
    wf.obj["metadata"].pop("resourceVersion")
    wf.node(f"{name}-1", "Succeeded", outputs={"artifacts": [{"name": "out", "s3": {"key": f"{name}/out.tgz"}}]})
    if ref is not None:
        wf.obj["status"]["artifactRepositoryRef"] = ref
    return wf.phase("Succeeded")


async def test_the_controller_configmap_gives_the_default_repository(double, pool, conn, settings):
    double.create("configmaps", configmap("argo", "workflow-controller-configmap", {"artifactRepository": CONTROLLER_REPOSITORY}))
    api = client.ApiClient(double.client_configuration())
    try:
        async with running_agent(pool, double, agent_settings(settings)) as running:
            loader = ClusterRepositories(api=api, registry=running.ingestor.repositories, artifacts=settings.artifacts)
            await loader.load_controller_default()
            double.create("workflows", key_only_workflow("wf", "ml", {"default": True}).obj)

            async def recorded() -> bool:
                return await conn.fetchval("SELECT count(*) FROM artifact_refs") == 1

            await eventually(recorded)
            await settled(running)
    finally:
        await api.close()
    row = await conn.fetchrow("SELECT uri, s3_endpoint, s3_insecure, location_source FROM artifact_refs")
    assert tuple(row) == ("s3://argo-artifacts/wf/out.tgz", "minio.argo:9000", True, "configured-repository")


async def test_a_configured_default_wins_over_the_clusters(double, settings):
    double.create("configmaps", configmap("argo", "workflow-controller-configmap", {"artifactRepository": CONTROLLER_REPOSITORY}))
    mine = S3Repository(bucket="mine", endpoint="s3.example:443")
    configured = settings.updated(artifacts={"repository": mine})
    registry = RepositoryRegistry(default=mine)
    api = client.ApiClient(double.client_configuration())
    try:
        await ClusterRepositories(api=api, registry=registry, artifacts=configured.artifacts).load_controller_default()
    finally:
        await api.close()
    assert registry.default == mine


async def test_a_namespace_artifact_repositories_configmap_resolves_named_and_default_keys(double, settings):
    double.create("configmaps", configmap(
        "team-a", "artifact-repositories",
        {"fast": "s3:\n  bucket: fast-bucket\n  endpoint: fast:9000\n", "slow": "s3:\n  bucket: slow-bucket\n  endpoint: slow:9000\n",
         "broken": "s3: [not, a, map"},
        annotations={"workflows.argoproj.io/default-artifact-repository": "slow"},
    ))  # fmt: skip
    registry = RepositoryRegistry()
    api = client.ApiClient(double.client_configuration())
    try:
        loader = ClusterRepositories(api=api, registry=registry, artifacts=settings.artifacts)
        assert await loader.load_namespace("team-a") == 2
        assert await loader.load_namespace("no-such-namespace") == 0  # 404: nothing, no error
    finally:
        await api.close()
    named = registry.resolve(namespace="team-a", ref={"configMap": "artifact-repositories", "key": "fast"})
    default = registry.resolve(namespace="team-a", ref={})
    assert (named.bucket, default.bucket) == ("fast-bucket", "slow-bucket")
    assert registry.resolve(namespace="team-b", ref={}) is None


async def test_a_workflow_from_a_new_namespace_triggers_one_read_of_its_configmap(double, pool, settings):
    double.create("configmaps", configmap("team-c", "artifact-repositories", {"default-v1": "s3:\n  bucket: c-bucket\n"}))
    registry = RepositoryRegistry()
    api = client.ApiClient(double.client_configuration())
    try:
        async with ClusterRepositories(api=api, registry=registry, artifacts=settings.artifacts) as loader:
            loader.seen_namespace("team-c")
            loader.seen_namespace("team-c")

            async def loaded() -> bool:
                return bool(registry.named())

            await eventually(loaded)
    finally:
        await api.close()
    assert list(registry.named()) == ["team-c/artifact-repositories/default-v1"]
    reads = double.requests_for("configmaps", "get")
    assert len(reads) == 1


async def test_the_first_workflow_of_a_new_namespace_resolves_through_its_configmap(double, pool, conn, settings):
    double.create("configmaps", configmap("team-d", "artifact-repositories", {"v1": "s3:\n  bucket: d-bucket\n  endpoint: d:9000\n"},
                                          annotations={"workflows.argoproj.io/default-artifact-repository": "v1"}))  # fmt: skip
    double.create("workflows", key_only_workflow("first", "team-d", {}).obj)
    async with running_agent(pool, double, agent_settings(settings), cluster_repositories=True) as running:
        await settled(running)
    row = await conn.fetchrow("SELECT uri, s3_endpoint FROM artifact_refs")
    assert tuple(row) == ("s3://d-bucket/first/out.tgz", "d:9000")


async def test_a_configmap_the_workflow_names_in_another_namespace_is_read_too(double, pool, conn, settings):
    double.create("configmaps", configmap("argo", "team-repos", {"big": "s3:\n  bucket: big-bucket\n  endpoint: big:9000\n"}))
    ref = {"namespace": "argo", "configMap": "team-repos", "key": "big"}
    double.create("workflows", key_only_workflow("named", "team-e", ref).obj)
    async with running_agent(pool, double, agent_settings(settings), cluster_repositories=True) as running:
        await settled(running)
    row = await conn.fetchrow("SELECT uri, s3_endpoint FROM artifact_refs")
    assert tuple(row) == ("s3://big-bucket/named/out.tgz", "big:9000")
    reads = {tuple(r.path.split("/")[-3::2]) for r in double.requests_for("configmaps", "get")}
    assert reads == {("team-e", "artifact-repositories"), ("argo", "team-repos")}


async def test_a_re_read_configmap_replaces_what_it_gave_but_never_a_configured_repository(double, settings):
    double.create("configmaps", configmap("team-f", "artifact-repositories", {
        "old": "s3:\n  bucket: old-bucket\n", "mine": "s3:\n  bucket: cluster-bucket\n",
    }, annotations={"workflows.argoproj.io/default-artifact-repository": "old"}))  # fmt: skip
    mine = S3Repository(bucket="configured-bucket")
    registry = RepositoryRegistry(named={"team-f/artifact-repositories/mine": mine})
    api = client.ApiClient(double.client_configuration())
    try:
        loader = ClusterRepositories(api=api, registry=registry, artifacts=settings.artifacts)
        await loader.load_namespace("team-f")
        assert registry.resolve(namespace="team-f", ref={}).bucket == "old-bucket"
        double.update("configmaps", configmap("team-f", "artifact-repositories", {"new": "s3:\n  bucket: new-bucket\n"}))
        await loader.load_namespace("team-f")
    finally:
        await api.close()
    assert registry.named() == {"team-f/artifact-repositories/new": S3Repository(bucket="new-bucket"),
                                "team-f/artifact-repositories/mine": mine}  # fmt: skip
    assert registry.resolve(namespace="team-f", ref={}) is None  # the default key went with its annotation
