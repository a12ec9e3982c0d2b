"""A small kustomize in pure Python: enough to render deploy/ in tests without a kustomize binary.

It implements the features deploy/ uses, the way kustomize 5 does them:

* ``resources`` (files, multi-document files, and directories holding their own kustomization),
  ``components`` (``kind: Component`` directories applied to what was accumulated so far);
* strategic-merge ``patches`` (``path:`` or inline ``patch:``) matched by kind and name: maps merge,
  ``null`` deletes a key, lists are replaced except the ones Kubernetes merges by key (containers,
  initContainers and env by name, volumes by name, volumeMounts by mountPath), and a top-level
  ``$patch: delete`` removes the object;
* ``namespace`` (namespaced kinds only; ServiceAccount subjects of bindings follow, as in kustomize);
* ``labels`` / ``commonLabels`` (metadata, and with selectors: the selectors and pod templates of
  the built-in kinds that have them);
* ``images`` (newName, newTag, digest).

Anything else in a kustomization raises `Unsupported`, so a manifest cannot quietly depend on a
feature these tests do not render. Transformations run in kustomize's order: patches, namespace,
labels, images.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {
    "apiVersion", "kind", "resources", "components", "namespace", "labels", "commonLabels", "patches",
    "images",
}  # fmt: skip

# Kinds kustomize leaves without a namespace (the cluster-scoped built-ins deploy/ could ship).
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "Node", "CSIDriver", "VolumeAttachment",
}  # fmt: skip

# Lists a strategic merge patch merges item by item instead of replacing, and the key of their items.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath"}  # fmt: skip

WORKLOADS = {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"}
_POD_SPEC_SELECTORS = [
    ("spec", "template", "spec", "topologySpreadConstraints", "[]", "labelSelector", "matchLabels"),
    *[
        ("spec", "template", "spec", "affinity", affinity, when, "[]", *term, "labelSelector", "matchLabels")
        for affinity in ("podAffinity", "podAntiAffinity")
        for when, term in (
            ("requiredDuringSchedulingIgnoredDuringExecution", ()),
            ("preferredDuringSchedulingIgnoredDuringExecution", ("podAffinityTerm",)),
        )
    ],
]


class Unsupported(Exception):
    """The kustomization uses a feature this renderer does not implement."""


class RenderError(Exception):
    """The kustomization is wrong (a patch that matches nothing, a duplicate object...)."""


def render(directory: str | Path) -> list[Obj]:
    """The objects `kustomize build directory` would print (in resource order, not kustomize's sort)."""
    return _build(Path(directory).resolve(), accumulated=None)


def load_documents(path: Path) -> list[Obj]:
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def object_id(obj: Obj) -> tuple[str, str, str | None, str]:
    """(group, kind, namespace, name): what kustomize tells objects apart by."""
    group = obj["apiVersion"].rpartition("/")[0]
    return group, obj["kind"], obj.get("metadata", {}).get("namespace"), obj["metadata"]["name"]


def _kustomization(directory: Path) -> Obj:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            [doc] = load_documents(directory / name)
            return doc
    raise RenderError(f"{directory}: no kustomization file")


def _build(directory: Path, *, accumulated: list[Obj] | None) -> list[Obj]:
    k = _kustomization(directory)
    is_component = k.get("kind") == "Component"
    if is_component != (accumulated is not None):
        raise RenderError(f"{directory}: a Component must be listed under components:, and only a Component")
    unknown = set(k) - SUPPORTED_FIELDS
    if unknown:
        raise Unsupported(f"{directory}: kustomization fields {sorted(unknown)}")

    objects = list(accumulated or [])
    for entry in k.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            objects.extend(_build(path, accumulated=None))
        elif path.is_file():
            objects.extend(load_documents(path))
        else:
            raise RenderError(f"{directory}: resource {entry} does not exist (remote resources are not supported)")
    _check_unique(objects, directory)
    for entry in k.get("components", []):
        objects = _build((directory / entry).resolve(), accumulated=objects)

    objects = [copy.deepcopy(o) for o in objects]
    for patch in k.get("patches", []):
        objects = _apply_patch_entry(objects, patch, directory)
    if "namespace" in k:
        _set_namespace(objects, k["namespace"])
    if "commonLabels" in k:
        _add_labels(objects, k["commonLabels"], selectors=True, templates=True)
    for entry in k.get("labels", []):
        extra = set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
        if extra:
            raise Unsupported(f"{directory}: labels fields {sorted(extra)}")
        selectors = bool(entry.get("includeSelectors", False))
        _add_labels(objects, entry["pairs"], selectors=selectors,
                    templates=selectors or bool(entry.get("includeTemplates", False)))  # fmt: skip
    for image in k.get("images", []):
        _set_image(objects, image, directory)
    _check_unique(objects, directory)
    return objects


def _check_unique(objects: list[Obj], where: Path) -> None:
    seen: set[tuple] = set()
    for obj in objects:
        oid = object_id(obj)
        if oid in seen:
            raise RenderError(f"{where}: {oid} is defined twice")
        seen.add(oid)


# --- patches ------------------------------------------------------------------------------------


def _apply_patch_entry(objects: list[Obj], entry: Obj, directory: Path) -> list[Obj]:
    extra = set(entry) - {"path", "patch"}
    if extra:
        raise Unsupported(f"{directory}: patch fields {sorted(extra)} (only strategic merge by kind and name)")
    if "path" in entry:
        docs = load_documents(directory / entry["path"])
    else:
        docs = [d for d in yaml.safe_load_all(entry["patch"]) if d is not None]
    for doc in docs:
        objects = apply_strategic_merge(objects, doc)
    return objects


def apply_strategic_merge(objects: list[Obj], patch: Obj) -> list[Obj]:
    """`objects` with `patch` applied to the one object of the patch's kind and name."""
    patch = copy.deepcopy(patch)
    directive = patch.pop("$patch", None)
    if directive not in (None, "delete"):
        raise Unsupported(f"$patch: {directive}")
    meta = patch.get("metadata", {})
    group = patch["apiVersion"].rpartition("/")[0]
    matches = [
        i for i, obj in enumerate(objects)
        if object_id(obj)[:2] == (group, patch["kind"]) and obj["metadata"]["name"] == meta["name"]
        and ("namespace" not in meta or obj["metadata"].get("namespace") == meta["namespace"])
    ]  # fmt: skip
    if len(matches) != 1:
        raise RenderError(f"patch for {patch['kind']}/{meta['name']} matches {len(matches)} objects, not 1")
    [i] = matches
    if directive == "delete":
        return objects[:i] + objects[i + 1 :]
    merged = merge(objects[i], patch)
    return objects[:i] + [merged] + objects[i + 1 :]


def merge(base: Any, patch: Any, *, key: str | None = None) -> Any:
    """Strategic merge of `patch` into `base` (new objects; neither argument is changed)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            if k.startswith("$"):
                raise Unsupported(f"patch directive {k}")
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = merge(out[k], v, key=k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        by = MERGE_KEYS[key]
        index = {item[by]: item for item in base}
        # kustomize (kyaml) emits the patch's items first, in patch order, then the rest of the base's.
        merged = [merge(index[item[by]], item) if item[by] in index else copy.deepcopy(item) for item in patch]
        patched = {item[by] for item in patch}
        return merged + [copy.deepcopy(item) for item in base if item[by] not in patched]
    return copy.deepcopy(patch)


# --- namespace ----------------------------------------------------------------------------------


def _set_namespace(objects: list[Obj], namespace: str) -> None:
    # Which ServiceAccounts this kustomization moves, by their namespace before the move.
    moved = {(o["metadata"]["name"], o["metadata"].get("namespace") or "default")
             for o in objects if o["kind"] == "ServiceAccount"}  # fmt: skip
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in obj.get("subjects", []):
                if subject.get("kind") != "ServiceAccount":
                    continue
                name, ns = subject["name"], subject.get("namespace")
                # kustomize moves the subject along with the ServiceAccount it names (an unset
                # namespace counts as a match), and always moves the `default` ServiceAccount.
                if name == "default" or any(n == name and (not ns or ns == old) for n, old in moved):
                    subject["namespace"] = namespace


# --- labels -------------------------------------------------------------------------------------


def _label_paths(kind: str, *, selectors: bool, templates: bool) -> list[tuple[tuple[str, ...], bool]]:
    """(path, create) pairs beyond metadata.labels, after kustomize's commonLabels field specs."""
    paths: list[tuple[tuple[str, ...], bool]] = []
    if kind in WORKLOADS:
        if selectors:
            paths.append((("spec", "selector", "matchLabels"), True))
            paths.extend((p, False) for p in _POD_SPEC_SELECTORS)
        if templates:
            paths.append((("spec", "template", "metadata", "labels"), True))
        if kind == "StatefulSet" and selectors:
            paths.append((("spec", "volumeClaimTemplates", "[]", "metadata", "labels"), True))
    elif kind in ("Job", "CronJob") and (selectors or templates):
        raise Unsupported(f"labels on {kind} selectors and templates")
    elif selectors and kind == "Service":
        paths.append((("spec", "selector"), True))
    elif selectors and kind == "PodDisruptionBudget":
        paths.append((("spec", "selector", "matchLabels"), False))
    elif selectors and kind == "NetworkPolicy":
        paths.append((("spec", "podSelector", "matchLabels"), False))
    return paths


def _add_labels(objects: list[Obj], pairs: dict[str, str], *, selectors: bool, templates: bool) -> None:
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(pairs)
        for path, create in _label_paths(obj["kind"], selectors=selectors, templates=templates):
            for target in _walk(obj, path, create=create):
                target.update(pairs)


def _walk(node: Any, path: tuple[str, ...], *, create: bool) -> list[dict]:
    """The maps at `path` ("[]" steps into every list item); missing maps are made when `create`."""
    if not path:
        return [node] if isinstance(node, dict) else []
    step, rest = path[0], path[1:]
    if step == "[]":
        return [t for item in node for t in _walk(item, rest, create=create)] if isinstance(node, list) else []
    if not isinstance(node, dict):
        return []
    if step not in node:
        if not create:
            return []
        node[step] = {}
    return _walk(node[step], rest, create=create)


# --- images -------------------------------------------------------------------------------------


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """"registry:5000/repo/name:tag@sha256:..." → (name, tag, digest)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def _set_image(objects: list[Obj], image: Obj, directory: Path) -> None:
    extra = set(image) - {"name", "newName", "newTag", "digest"}
    if extra:
        raise Unsupported(f"{directory}: images fields {sorted(extra)}")
    for obj in objects:
        for container in _containers(obj):
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
                continue
            tag = str(image.get("newTag", tag)) if image.get("newTag", tag) is not None else None
            container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _containers(node: Any) -> list[dict]:
    found: list[dict] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("containers", "initContainers") and isinstance(v, list):
                found.extend(c for c in v if isinstance(c, dict) and "image" in c)
            else:
                found.extend(_containers(v))
    elif isinstance(node, list):
        for item in node:
            found.extend(_containers(item))
    return found
