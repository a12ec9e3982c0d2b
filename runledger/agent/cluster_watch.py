"""The live-cluster agent: Workflow and Pod streams feeding the ingestor.

Configuration: see runledger.core.kube_client (in-cluster service account, else a kubeconfig).

Scope: cluster-wide by default, or one stream per configured namespace. Workflows may be narrowed by
a label selector; pods are always narrowed to Argo's (label ``workflows.argoproj.io/workflow``).
With a shard (``RUNLEDGER_SHARD``), the streams still read their whole scope (the API server cannot
filter by a hash) and the events of namespaces another shard owns are counted and dropped.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any

from runledger.agent.repository_configmaps import ClusterRepositories
from runledger.agent.ingest import Ingestor
from runledger.agent.translate import run_id_for
from runledger.agent.watching import CheckpointStore, WatchSettings, WatchStream
from runledger.core import kube_client
from runledger.core.kube_client import client
from runledger.core.lifecycle import Service
from runledger.core.run_state import WatchEvent
from runledger.core.artifact_locations import DEFAULT_REPOSITORY_CONFIGMAP
from runledger.core.settings import ClusterSettings
from runledger.core.shards import Shard
from runledger.store.reconcile import selector_as_labels

log = logging.getLogger(__name__)

ARGO_GROUP, ARGO_VERSION, WORKFLOWS = "argoproj.io", "v1alpha1", "workflows"
ARGO_POD_SELECTOR = "workflows.argoproj.io/workflow"


def cluster_configured(cluster: ClusterSettings) -> bool:
    """Whether `runledger run` should watch a cluster rather than replay files."""
    if cluster.source != "auto":
        return cluster.source == "cluster"
    return kube_client.cluster_configured(cluster)


connect = kube_client.connect


def watch_settings(cluster: ClusterSettings) -> WatchSettings:
    return WatchSettings(
        page_size=cluster.watch_page_size,
        timeout_seconds=cluster.watch_timeout_seconds,
        inactivity_seconds=cluster.watch_inactivity_seconds,
        backoff_max=cluster.watch_backoff_max_seconds,
        checkpoint_seconds=cluster.watch_checkpoint_seconds,
    )


class WorkflowHandler:
    """Workflow events go to the ingestor; a completed list reconciles deletions in its scope."""

    def __init__(
        self,
        *,
        ingestor: Ingestor,
        namespace: str | None,
        selector: str | None,
        repositories: ClusterRepositories | None = None,
        shard: Shard | None = None,
    ) -> None:
        self._ingestor = ingestor
        self._repositories = repositories
        self._namespace = namespace
        self._shard = shard
        self._labels = selector_as_labels(selector)
        self._list_started: datetime | None = None

    async def on_event(self, event: WatchEvent) -> None:
        if not _owned(self._shard, event, self._ingestor, resource="workflow"):
            return
        if self._repositories is not None:
            await self._repositories.before_translating(_repository_configmaps(event.object))
        await self._ingestor.submit(event)

    async def on_list_started(self) -> None:
        self._list_started = await self._ingestor.database_now()

    async def on_listed(self, objects: list[dict[str, Any]]) -> None:
        if self._labels is False:
            log.warning("workflow selector is not a set of equalities: deleted runs are not reconciled")
            await self._ingestor.drain()
            return
        await self._ingestor.reconcile(
            listed_run_ids=[run_id_for(o) for o in objects if o.get("name")],
            list_started_at=self._list_started,
            namespaces=[self._namespace] if self._namespace else None,
            labels=self._labels or None,
            shard=self._shard,
        )


def _owned(shard: Shard | None, event: WatchEvent, ingestor: Ingestor, *, resource: str) -> bool:
    """Whether this agent records the event: always unsharded, else when its namespace is the shard's.

    An object without a namespace is left to the ingestor, which refuses it with a clear error.
    """
    namespace = (event.object.get("metadata") or {}).get("namespace") if isinstance(event.object, dict) else None
    if shard is None or not isinstance(namespace, str) or shard.owns(namespace):
        return True
    ingestor.stats.other_shards[resource] += 1
    return False


def _repository_configmaps(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    """The ConfigMaps a workflow's key-only artifacts may resolve through: its namespace's
    artifact-repositories and the one its status.artifactRepositoryRef names."""
    namespace = (workflow.get("metadata") or {}).get("namespace")
    if not isinstance(namespace, str) or not namespace:
        return []
    found = [(namespace, DEFAULT_REPOSITORY_CONFIGMAP)]
    ref = (workflow.get("status") or {}).get("artifactRepositoryRef")
    if isinstance(ref, dict) and not isinstance(ref.get("artifactRepository"), dict):
        name, ref_namespace = ref.get("configMap"), ref.get("namespace")
        if isinstance(name, str) and name:
            pair = (ref_namespace if isinstance(ref_namespace, str) and ref_namespace else namespace, name)
            if pair not in found:
                found.append(pair)
    return found


class PodHandler:
    def __init__(self, *, ingestor: Ingestor, shard: Shard | None = None) -> None:
        self._ingestor = ingestor
        self._shard = shard

    async def on_event(self, event: WatchEvent) -> None:
        if _owned(self._shard, event, self._ingestor, resource="pod"):
            await self._ingestor.submit_pod(event)

    async def on_list_started(self) -> None:
        return None

    async def on_listed(self, objects: list[dict[str, Any]]) -> None:
        return None


def build_streams(
    *,
    api: client.ApiClient,
    ingestor: Ingestor,
    cluster: ClusterSettings,
    checkpoints: CheckpointStore | None,
    repositories: ClusterRepositories | None = None,
) -> list[WatchStream]:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    options = watch_settings(cluster)
    selector, shard = cluster.kube_workflow_selector, cluster.shard_spec
    streams = []
    for namespace in cluster.namespaces or [None]:
        # Each shard resumes from its own checkpoints: the same scope, but other events kept.
        scope = (namespace or "*") + (f"@{shard}" if shard else "")
        if namespace:
            list_workflows = functools.partial(
                custom.list_namespaced_custom_object, ARGO_GROUP, ARGO_VERSION, namespace, WORKFLOWS
            )
            list_pods = functools.partial(core.list_namespaced_pod, namespace)
        else:
            list_workflows = functools.partial(custom.list_cluster_custom_object, ARGO_GROUP, ARGO_VERSION, WORKFLOWS)
            list_pods = core.list_pod_for_all_namespaces
        streams.append(
            WatchStream(
                name=f"workflows:{scope}:{selector or ''}",
                list_call=list_workflows,
                handler=WorkflowHandler(
                    ingestor=ingestor, namespace=namespace, selector=selector, repositories=repositories, shard=shard
                ),
                settings=options,
                checkpoints=checkpoints,
                progress=ingestor,
                label_selector=selector,
            )
        )
        if cluster.kube_watch_pods:
            streams.append(
                WatchStream(
                    name=f"pods:{scope}:{ARGO_POD_SELECTOR}",
                    list_call=list_pods,
                    handler=PodHandler(ingestor=ingestor, shard=shard),
                    settings=options,
                    checkpoints=checkpoints,
                    progress=ingestor,
                    label_selector=ARGO_POD_SELECTOR,
                )
            )
    return streams


class ClusterAgent(Service):
    """Runs the streams (`async with` it); if any of them dies `failed` resolves: the agent fails
    loudly instead of running half-blind."""

    name = "cluster agent"

    def __init__(self, streams: list[WatchStream]) -> None:
        super().__init__()
        self.streams = streams

    def synced(self) -> bool:
        return all(s.state.synced.is_set() for s in self.streams)

    async def _start(self) -> None:
        for stream in self.streams:
            self.spawn(stream.run(), name=f"watch:{stream.name}")

    async def save_final_checkpoints(self) -> None:
        """After the ingestor drained: every received event is persisted, so resume from the newest."""
        for stream in self.streams:
            await stream.checkpoint_now(final=True)
