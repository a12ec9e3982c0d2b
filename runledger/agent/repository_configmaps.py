"""Reading Argo's artifact repository configuration from the cluster.

Two ConfigMaps matter (Argo's own lookup order, see runledger.core.artifact_locations): the controller's
``workflow-controller-configmap`` (key ``artifactRepository``: the default repository) and, in each
workflow namespace, ``artifact-repositories`` (one repository per key; the annotation
``workflows.argoproj.io/default-artifact-repository`` names the namespace default).

A workflow's ``status.artifactRepositoryRef`` may name another ConfigMap (and namespace): that one
is read too. Only ``get`` on the names in use is needed, so RBAC can be restricted by resourceNames
(deploy/ grants the two default names; a 403 on any other is logged and it resolves from settings).

Each ConfigMap is read the first time a workflow that may resolve through it arrives, before that
workflow is translated, so even a new namespace's first workflow finds its repositories; then again
in the background when a workflow arrives ``refresh`` seconds or more after the last read. A
re-read replaces what the ConfigMap gave before (a removed key is gone). A repository configured in
settings always wins over the cluster's. The reader is a lifecycle.Service: leaving ``async with``
cancels the background reads still running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import yaml

from runledger.core.kube_client import ApiException, client
from runledger.core.lifecycle import Service
from runledger.core.artifact_locations import (
    CONTROLLER_REPOSITORY_KEY,
    DEFAULT_REPOSITORY_ANNOTATION,
    DEFAULT_REPOSITORY_CONFIGMAP,
    RepositoryRegistry,
    repository_from_argo,
)
from runledger.core.settings import ArtifactsSettings

log = logging.getLogger(__name__)

# A ConfigMap read holds up the first workflow that needs it; a hung API server must not hold it long.
READ_TIMEOUT_SECONDS = 10


class ClusterRepositories(Service):
    name = "artifact repositories"

    def __init__(
        self, *, api: client.ApiClient, registry: RepositoryRegistry, artifacts: ArtifactsSettings, refresh: float = 600.0
    ) -> None:
        super().__init__()
        self._core = client.CoreV1Api(api)
        self._registry = registry
        self._settings = artifacts
        self._refresh = refresh
        self._read_at: dict[tuple[str, str], float] = {}  # (namespace, name) -> monotonic time
        # Background reads: each ends on its own (no supervised part of the lifecycle), cancelled on leaving.
        self._reads: set[asyncio.Task] = set()

    async def load_controller_default(self) -> None:
        s = self._settings
        data = await self._read(s.controller_namespace, s.controller_configmap)
        if data is None:
            return
        try:
            repo = repository_from_argo(yaml.safe_load(data.get(CONTROLLER_REPOSITORY_KEY) or "") or {})
        except yaml.YAMLError as exc:
            log.warning("%s/%s: artifactRepository is not YAML: %s", s.controller_namespace,
                        s.controller_configmap, exc)  # fmt: skip
            return
        if repo is not None:
            self._registry.set_default(repo, only_if_unset=s.repository is not None)
            log.info("default artifact repository from %s: bucket %s at %s", s.controller_configmap,
                     repo.bucket, repo.endpoint or "AWS S3")  # fmt: skip

    def seen_namespace(self, namespace: str) -> None:
        """Note a workflow namespace; its artifact-repositories ConfigMap is read in the background."""
        if self._due((namespace, DEFAULT_REPOSITORY_CONFIGMAP)):
            self._in_background(namespace, DEFAULT_REPOSITORY_CONFIGMAP)

    async def before_translating(self, configmaps: Iterable[tuple[str, str]]) -> None:
        """Make the ConfigMaps ((namespace, name) pairs) a workflow may resolve through known: one never
        read is read now (bounded by the read timeout); a stale one is re-read in the background."""
        for namespace, name in configmaps:
            if not self._due((namespace, name)):
                continue
            if (namespace, name) in self._read_at:
                self._in_background(namespace, name)
            else:
                self._read_at[(namespace, name)] = time.monotonic()
                await self.load_configmap(namespace, name)

    async def load_namespace(self, namespace: str) -> int:
        return await self.load_configmap(namespace, DEFAULT_REPOSITORY_CONFIGMAP)

    async def load_configmap(self, namespace: str, name: str) -> int:
        data_and_meta = await self._read(namespace, name, with_meta=True)
        if data_and_meta is None:
            return 0
        data, annotations = data_and_meta
        found = self._registry.add_configmap(
            namespace=namespace, name=name, data=data, default_key=annotations.get(DEFAULT_REPOSITORY_ANNOTATION)
        )
        log.info("%d artifact repositories in %s/%s", found, namespace, name)
        return found

    def _due(self, configmap: tuple[str, str]) -> bool:
        read_at = self._read_at.get(configmap)
        return read_at is None or time.monotonic() - read_at >= self._refresh

    def _in_background(self, namespace: str, name: str) -> None:
        self._read_at[(namespace, name)] = time.monotonic()
        task = asyncio.create_task(self.load_configmap(namespace, name), name=f"artifact-repositories:{namespace}/{name}")
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)

    async def _close(self) -> None:
        for task in list(self._reads):
            task.cancel()
        await asyncio.gather(*self._reads, return_exceptions=True)

    async def _read(self, namespace: str, name: str, *, with_meta: bool = False):  # noqa: ANN202
        try:
            cm = await self._core.read_namespaced_config_map(name, namespace, _request_timeout=READ_TIMEOUT_SECONDS)
        except ApiException as exc:
            # Absent or not ours to read: repositories then come from settings and workflow status.
            level = logging.DEBUG if exc.status == 404 else logging.WARNING
            log.log(level, "cannot read ConfigMap %s/%s: HTTP %s", namespace, name, exc.status)
            return None
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("cannot read ConfigMap %s/%s: %s", namespace, name, exc)
            return None
        data = {str(k): str(v) for k, v in (cm.data or {}).items()}
        if with_meta:
            return data, dict(cm.metadata.annotations or {})
        return data
