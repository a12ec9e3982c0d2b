"""Pod object (a dict, as the Kubernetes API returns it) -> ``PodObservation``.

The Workflow status says what Argo decided about a step; the step's Pod says what Kubernetes did
to it: which image actually ran, whether the main container was OOM-killed or the pod evicted,
how often it restarted, what it asked for, when it was scheduled. This module reads only that,
and ties it to its step by the same keys ``translate_workflow`` produces (run id, node id), so the
store can join the two without ever looking at pod names.

How a pod is tied to its step follows Argo's own conventions (``workflow/common/common.go``,
``workflow/controller/workflowpod.go``):

* the workflow is the ``workflows.argoproj.io/workflow`` label, and the run id is the uid of the
  pod's ``Workflow`` owner reference (the controller reference Argo sets on every pod), which is
  the Workflow's ``metadata.uid`` and therefore ``runs.id``;
* the node id is the ``workflows.argoproj.io/node-id`` annotation when present. Older pods carry
  only ``workflows.argoproj.io/node-name``; Argo derives node ids from node names deterministically
  (``Workflow.NodeID``: the workflow name for the root node, else ``<workflow>-<fnv32a(name)>``),
  which holds for every node of every real Workflow in the shared fixtures. A pod with neither
  annotation can still be mapped when its name is a v1 pod name, since v1 pod names are node ids.

Like the workflow translation, this is pure and total: optional fields may be missing (a pending
pod has no status), fields of the wrong type are treated as missing, and the only exception is
``TranslationError``, for objects that are not pods of an Argo workflow step or cannot be mapped.
Values that cannot be stored are handled, and reported as warnings, as ``translate_workflow``
handles them (see runledger.agent.translate); a restart count beyond 32 bits is clipped to the
largest one, since a count, unlike an exit code, is still true as a lower bound.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from runledger.agent.translate import (
    _INT32_MAX,
    TranslationError,
    _dict,
    _int32,
    _list,
    _shown,
    _time,
    check_identity,
    check_kind,
    fnv32a,
    nul_warning,
    run_id_for,
    without_nul,
)
from runledger.core.run_state import PodObservation

LABEL_WORKFLOW = "workflows.argoproj.io/workflow"
LABEL_COMPONENT = "workflows.argoproj.io/component"
ANNOTATION_NODE_ID = "workflows.argoproj.io/node-id"
ANNOTATION_NODE_NAME = "workflows.argoproj.io/node-name"
MAIN_CONTAINER = "main"
_EXECUTOR_CONTAINERS = frozenset({"wait", "init"})
# Go formats the uint32 hash with %v: decimal, no sign, no leading zeros.
_UINT32_DECIMAL = re.compile(r"0|[1-9][0-9]{0,9}")


def node_id_for(workflow_name: str, node_name: str) -> str:
    """Argo's node id for a node name (Workflow.NodeID in argo-workflows)."""
    if node_name == workflow_name:
        return workflow_name
    # surrogatepass: a hand-made name with a lone surrogate must not make encoding raise.
    return f"{workflow_name}-{fnv32a(node_name.encode('utf-8', 'surrogatepass'))}"


def translate_pod(obj: Any, *, deleted: bool = False, nul_free: bool = False) -> PodObservation:
    """Translate one Pod created by Argo for a workflow step into a PodObservation.

    `nul_free`: the JSON text the pod was decoded from passed `text_holds_no_nul` (no string is searched).
    """
    ref = check_kind(obj, kind="Pod", api_group="")
    warnings: list[str] = []
    obj, meta = _clean_metadata(obj, ref=ref, nul_free=nul_free, warnings=warnings)
    pod_name = _text(meta.get("name"))
    if not pod_name:
        raise TranslationError(f"{ref}: metadata.name is missing")
    namespace = _text(meta.get("namespace")) or "default"
    workflow_name, run_id = _workflow_of(meta, namespace=namespace, ref=ref)
    node_id = _mapped_node_id(pod_name, workflow_name, meta=meta, ref=ref)
    spec = _dict(obj.get("spec"))
    status = _dict(obj.get("status"))
    main = _main_container(spec)
    main_status = _container_status(status, name=_text(main.get("name")) or MAIN_CONTAINER)
    running, terminated = _latest_state(main_status)
    resources = _dict(main.get("resources"))

    try:
        return PodObservation(
            run_id=run_id,
            namespace=namespace,
            workflow_name=workflow_name,
            node_id=node_id,
            pod_name=pod_name,
            pod_uid=_text(meta.get("uid")),
            phase=_text(status.get("phase")),
            host_node=_text(spec.get("nodeName")),
            image=_text(main.get("image")),
            exit_code=_int32(terminated.get("exitCode"), at="the main container's exitCode", warnings=warnings),
            # A pod-level reason (Evicted, DeadlineExceeded, NodeLost...) is why the step ended even
            # when the container's own record, if any, only says it was killed.
            termination_reason=_text(status.get("reason")) or _text(terminated.get("reason")),
            restart_count=_restart_count(main_status.get("restartCount"), warnings=warnings),
            requests=_quantities(resources.get("requests")),
            limits=_quantities(resources.get("limits")),
            scheduled_at=_scheduled_at(status, warnings=warnings),
            started_at=_started_at(running, terminated, status=status, warnings=warnings),
            finished_at=_time(terminated.get("finishedAt"), at="the main container's finishedAt", warnings=warnings),
            resource_version=_version(meta.get("resourceVersion")),
            deleted=bool(deleted),
            warnings=tuple(warnings),
        )
    except ValidationError as exc:  # unreachable with the coercions above; keeps the one-exception contract
        raise TranslationError(f"{ref}: pod does not fit a PodObservation: {exc}") from exc


def _mapped_node_id(pod_name: str, workflow_name: str, *, meta: dict[str, Any], ref: str) -> str:
    """The id of the workflow node the pod ran, or TranslationError."""
    node_id = _node_id(pod_name, workflow_name, _strings(meta.get("annotations")))
    if not node_id:
        raise TranslationError(
            f"{ref}: cannot map the pod to a node of workflow {workflow_name}: no {ANNOTATION_NODE_ID} or "
            f"{ANNOTATION_NODE_NAME} annotation, and the pod name is not a v1 (node id) pod name"
        )
    return node_id


def _started_at(
    running: dict[str, Any], terminated: dict[str, Any], *, status: dict[str, Any], warnings: list[str]
) -> datetime | None:
    """When the main container started (running or ended), else when the pod did."""
    return (
        _time(running.get("startedAt"), at="the main container's startedAt", warnings=warnings)
        or _time(terminated.get("startedAt"), at="the main container's startedAt", warnings=warnings)
        or _time(status.get("startTime"), at="status.startTime", warnings=warnings)
    )


def _clean_metadata(
    obj: dict[str, Any], *, ref: str, nul_free: bool, warnings: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod cleaned of NUL characters, and its metadata; TranslationError where cleaning could misfile it."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise TranslationError(f"{ref}: metadata is missing")
    check_identity(meta, ref=ref)
    if any("\x00" in _str_or_empty(o.get("uid")) for o in _workflow_owners(meta)):
        # The owner's uid is the run id: a cleaned one would file the pod under no run, or another's.
        raise TranslationError(f"{ref}: its Workflow owner reference's uid holds a NUL character")
    obj, stripped = (obj, 0) if nul_free else without_nul(obj)
    if stripped:
        warnings.append(nul_warning(stripped))
        meta = obj["metadata"]
    return obj, meta


def _workflow_of(meta: dict[str, Any], *, namespace: str, ref: str) -> tuple[str, str]:
    """The workflow's name and the run id, from the pod's label and its Workflow owner reference."""
    labels = _strings(meta.get("labels"))
    owners = _workflow_owners(meta)
    workflow_name = labels.get(LABEL_WORKFLOW)
    if not workflow_name:
        if not owners:
            raise TranslationError(
                f"{ref}: not a pod of an Argo workflow (no {LABEL_WORKFLOW} label, no Workflow owner reference)"
            )
        # The label is what Argo selects its pods by; an owner reference alone still names the workflow.
        workflow_name = _text(owners[0].get("name"))
        if not workflow_name:
            raise TranslationError(f"{ref}: its Workflow owner reference has no name")
    component = labels.get(LABEL_COMPONENT)
    if component:
        # Agent and artifact-GC pods belong to the workflow but to none of its nodes.
        raise TranslationError(f"{ref}: Argo {component!r} pod of workflow {workflow_name}, not a step pod")

    owner = next((o for o in owners if _text(o.get("name")) == workflow_name), None)
    if owners and owner is None:
        # Recording it would file one workflow's pod under another workflow's run.
        names = ", ".join(repr(_text(o.get("name"))) for o in owners)
        raise TranslationError(
            f"{ref}: label {LABEL_WORKFLOW}={workflow_name!r} disagrees with its Workflow owner reference ({names})"
        )
    owner_uid = _text(owner.get("uid")) if owner else None
    return workflow_name, owner_uid or run_id_for({"namespace": namespace, "name": workflow_name})


def _container_status(status: dict[str, Any], *, name: str) -> dict[str, Any]:
    return next(
        (s for s in _list(status.get("containerStatuses")) if isinstance(s, dict) and _text(s.get("name")) == name),
        {},
    )


def _latest_state(container_status: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The container's running and terminated states (either may be empty)."""
    state = _dict(container_status.get("state"))
    running = _dict(state.get("running"))
    terminated = _dict(state.get("terminated"))
    if not running and not terminated:
        # Waiting again after a crash (CrashLoopBackOff under a restarting policy): the last
        # termination is the latest outcome. While running, an earlier crash is not the outcome.
        terminated = _dict(_dict(container_status.get("lastState")).get("terminated"))
    return running, terminated


def _workflow_owners(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Owner references to an Argo Workflow; a 'Workflow' kind of another API group is not one."""
    return [
        o
        for o in _list(meta.get("ownerReferences"))
        if isinstance(o, dict)
        and o.get("kind") == "Workflow"
        and isinstance(o.get("apiVersion"), str)
        and o["apiVersion"].startswith("argoproj.io/")
    ]


def _node_id(pod_name: str, workflow_name: str, annotations: dict[str, str]) -> str | None:
    node_id = annotations.get(ANNOTATION_NODE_ID)
    if node_id:
        return node_id
    node_name = annotations.get(ANNOTATION_NODE_NAME)
    if node_name:
        return node_id_for(workflow_name, node_name)
    # Without annotations only a v1 name identifies the node: the root pod is named after the
    # workflow, other v1 pods are `<workflow>-<uint32>`. v2 names carry the template in between.
    if pod_name == workflow_name:
        return pod_name
    prefix = f"{workflow_name}-"
    if pod_name.startswith(prefix):
        suffix = pod_name[len(prefix) :]
        if _UINT32_DECIMAL.fullmatch(suffix) and int(suffix) < 2**32:
            return pod_name
    return None


def _main_container(spec: dict[str, Any]) -> dict[str, Any]:
    containers = [c for c in _list(spec.get("containers")) if isinstance(c, dict)]
    for container in containers:
        if container.get("name") == MAIN_CONTAINER:
            return container
    # Pods from hand-written or very old controllers may name the user's container otherwise.
    for container in containers:
        if container.get("name") not in _EXECUTOR_CONTAINERS:
            return container
    return {}


def _scheduled_at(status: dict[str, Any], *, warnings: list[str]) -> datetime | None:
    for condition in _list(status.get("conditions")):
        if (
            isinstance(condition, dict)
            and condition.get("type") == "PodScheduled"
            and condition.get("status") == "True"
        ):
            return _time(condition.get("lastTransitionTime"), at="PodScheduled's lastTransitionTime", warnings=warnings)
    return None


def _restart_count(value: Any, *, warnings: list[str]) -> int:
    if value is None or isinstance(value, bool):
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    except OverflowError:  # an infinite float
        number = _INT32_MAX + 1 if value > 0 else 0
    if number > _INT32_MAX:
        warnings.append(f"out_of_range: restartCount {_shown(value)} clipped to {_INT32_MAX}")
        return _INT32_MAX
    return max(number, 0)


def _quantities(value: Any) -> dict[str, str]:
    """Resource quantities as the API writes them ("500m", "2Gi"); YAML may have made numbers of some."""
    out: dict[str, str] = {}
    for name, quantity in _dict(value).items():
        if not isinstance(name, str) or not name or isinstance(quantity, bool):
            continue
        if isinstance(quantity, str) and quantity:
            out[name] = quantity
        elif isinstance(quantity, (int, float)):
            out[name] = str(quantity)
    return out


def _strings(value: Any) -> dict[str, str]:
    """Labels or annotations; entries that are not string -> string are not Kubernetes' and are dropped."""
    return {k: v for k, v in _dict(value).items() if isinstance(k, str) and isinstance(v, str)}


def _str_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _version(value: Any) -> str | None:
    # YAML loaders turn an unquoted resourceVersion into an int.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)

