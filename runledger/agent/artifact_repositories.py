"""Reading Argo's artifact repository configuration from the cluster.

Two ConfigMaps matter (Argo's own lookup order, see runledger.repositories): the controller's
``workflow-controller-configmap`` (key ``artifactRepository``: the default repository) and, in each
workflow namespace, ``artifact-repositories`` (one repository per key; the annotation
``workflows.argoproj.io/default-artifact-repository`` names the namespace default).

Only ``get`` on those two names is needed, so RBAC can be restricted by resourceNames. Namespaces
are read once each, the first time a workflow from them arrives, and re-read after ``refresh``
seconds. A repository configured in settings always wins over the cluster's.
"""

from __future__ import annotations

import asyncio
import logging
import time

import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from runledger.repositories import (
    CONTROLLER_REPOSITORY_KEY,
    DEFAULT_REPOSITORY_ANNOTATION,
    DEFAULT_REPOSITORY_CONFIGMAP,
    RepositoryRegistry,
    repository_from_argo,
)
from runledger.settings import Settings

log = logging.getLogger(__name__)


class ClusterRepositories:
    def __init__(
        self, *, api: client.ApiClient, registry: RepositoryRegistry, settings: Settings, refresh: float = 600.0
    ) -> None:
        self._core = client.CoreV1Api(api)
        self._registry = registry
        self._settings = settings
        self._refresh = refresh
        self._read_at: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()

    async def load_controller_default(self) -> None:
        s = self._settings
        data = await self._read(s.artifacts_controller_namespace, s.artifacts_controller_configmap)
        if data is None:
            return
        try:
            repo = repository_from_argo(yaml.safe_load(data.get(CONTROLLER_REPOSITORY_KEY) or "") or {})
        except yaml.YAMLError as exc:
            log.warning("%s/%s: artifactRepository is not YAML: %s", s.artifacts_controller_namespace,
                        s.artifacts_controller_configmap, exc)  # fmt: skip
            return
        if repo is not None:
            self._registry.set_default(repo, only_if_unset=s.artifacts_repository is not None)
            log.info("default artifact repository from %s: bucket %s at %s", s.artifacts_controller_configmap,
                     repo.bucket, repo.endpoint or "AWS S3")  # fmt: skip

    def seen_namespace(self, namespace: str) -> None:
        """Note a workflow namespace; its artifact-repositories ConfigMap is read in the background."""
        read_at = self._read_at.get(namespace)
        if read_at is not None and time.monotonic() - read_at < self._refresh:
            return
        self._read_at[namespace] = time.monotonic()
        task = asyncio.create_task(self.load_namespace(namespace), name=f"artifact-repositories:{namespace}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def load_namespace(self, namespace: str) -> int:
        data_and_meta = await self._read(namespace, DEFAULT_REPOSITORY_CONFIGMAP, with_meta=True)
        if data_and_meta is None:
            return 0
        data, annotations = data_and_meta
        found = self._registry.add_configmap(
            namespace=namespace,
            name=DEFAULT_REPOSITORY_CONFIGMAP,
            data=data,
            default_key=annotations.get(DEFAULT_REPOSITORY_ANNOTATION),
        )
        log.info("%d artifact repositories in %s/%s", found, namespace, DEFAULT_REPOSITORY_CONFIGMAP)
        return found

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read(self, namespace: str, name: str, *, with_meta: bool = False):  # noqa: ANN202
        try:
            cm = await self._core.read_namespaced_config_map(name, namespace)
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
