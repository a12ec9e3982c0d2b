"""Where an artifact lives: Argo's artifact repositories, and the registry that resolves them.

An Argo S3 artifact often carries only ``s3.key``. The rest (bucket, endpoint, region, TLS) comes
from the repository the workflow used, in this order — the order Argo itself applies:

1. the artifact's own ``s3`` fields (Argo 2.x and KFP v1 write them in full);
2. ``status.artifactRepositoryRef.artifactRepository``, the repository the controller resolved and
   copied into the workflow (Argo >= 3.0);
3. the ConfigMap/key that ``status.artifactRepositoryRef`` names (``artifact-repositories`` by
   default), as configured in settings or read from the cluster;
4. the default repository: configured in settings, else the ``artifactRepository`` key of the
   ``workflow-controller-configmap``.

The registry only ever holds locations. Credentials are settings of their own (secret values), so
a repository can be logged or returned by the API without leaking anything.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_REPOSITORY_CONFIGMAP = "artifact-repositories"
DEFAULT_REPOSITORY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
CONTROLLER_REPOSITORY_KEY = "artifactRepository"


class S3Repository(BaseModel):
    """An S3-compatible artifact repository (Argo's ``s3`` repository block, location fields only)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    bucket: str | None = None
    endpoint: str | None = Field(default=None, description="host:port as Argo writes it; unset: AWS S3.")
    region: str | None = None
    insecure: bool = Field(default=False, description="Plain HTTP instead of HTTPS.")


def repository_from_argo(doc: Any) -> S3Repository | None:
    """The S3 location in an Argo ArtifactRepository document ({"s3": {...}}), or None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("s3"), dict):
        return None
    s3 = doc["s3"]
    repo = S3Repository(
        bucket=_text(s3.get("bucket")),
        endpoint=_text(s3.get("endpoint")),
        region=_text(s3.get("region")),
        insecure=s3.get("insecure") is True,
    )
    return repo if repo.bucket else None


def repositories_from_configmap(data: dict[str, str]) -> dict[str, S3Repository]:
    """The S3 repositories of an ``artifact-repositories`` ConfigMap, by key. Bad keys are skipped."""
    found: dict[str, S3Repository] = {}
    for key, text in data.items():
        try:
            repo = repository_from_argo(yaml.safe_load(text))
        except yaml.YAMLError:
            continue
        if repo is not None:
            found[key] = repo
    return found


class RepositoryRegistry:
    """Named repositories ("namespace/configmap/key" or "configmap/key") plus a default."""

    def __init__(self, *, default: S3Repository | None = None, named: dict[str, S3Repository] | None = None) -> None:
        self._default = default
        self._named: dict[str, S3Repository] = dict(named or {})
        self._configured = frozenset(self._named)  # from settings: the cluster's never replace them
        # Per namespace: the key its artifact-repositories ConfigMap marks as default.
        self._namespace_defaults: dict[str, str] = {}
        # Counts changes: what was resolved before one may resolve otherwise now (agent.translate.NodeMemo).
        self.generation = 0

    @property
    def default(self) -> S3Repository | None:
        return self._default

    def set_default(self, repo: S3Repository | None, *, only_if_unset: bool = False) -> None:
        if only_if_unset and self._default is not None:
            return
        if repo != self._default:
            self.generation += 1
        self._default = repo

    def add_configmap(self, *, namespace: str, name: str, data: dict[str, str], default_key: str | None) -> int:
        """Register every repository of one ConfigMap, replacing what it gave before; returns how many
        were usable."""
        repos = repositories_from_configmap(data)
        prefix = f"{namespace}/{name}/"
        before = (dict(self._named), self._namespace_defaults.get(namespace))
        for stale in [n for n in self._named if n.startswith(prefix) and n not in self._configured]:
            del self._named[stale]
        for key, repo in repos.items():
            if prefix + key not in self._configured:
                self._named[prefix + key] = repo
        if name == DEFAULT_REPOSITORY_CONFIGMAP:
            if default_key:
                self._namespace_defaults[namespace] = default_key
            else:
                self._namespace_defaults.pop(namespace, None)
        if (self._named, self._namespace_defaults.get(namespace)) != before:  # re-read every few minutes
            self.generation += 1
        return len(repos)

    def named(self) -> dict[str, S3Repository]:
        return dict(self._named)

    def resolve(self, *, namespace: str, ref: dict[str, Any]) -> S3Repository | None:
        """The repository a workflow in `namespace` used, from its status.artifactRepositoryRef."""
        inline = repository_from_argo(ref.get("artifactRepository"))
        if inline is not None:
            return inline
        configmap = _text(ref.get("configMap")) or DEFAULT_REPOSITORY_CONFIGMAP
        ref_namespace = _text(ref.get("namespace")) or namespace
        key = _text(ref.get("key")) or self._namespace_defaults.get(ref_namespace)
        if key and not ref.get("default"):
            for name in (f"{ref_namespace}/{configmap}/{key}", f"{configmap}/{key}"):
                if name in self._named:
                    return self._named[name]
        return self._default


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
