"""Workflow object (a dict, as the Kubernetes API returns it) -> ``RunState``.

Translation is pure and total over valid Workflows: every field Argo may leave out is optional
here, unknown node types, phases and shutdown strategies are kept verbatim (and reported as
warnings so they can be counted), and only an object that cannot be a Workflow at all raises
``TranslationError``.

Argo keeps node state in one of three places: ``status.nodes``; ``status.compressedNodes``
(gzip + base64 of the same JSON, used when the object would exceed etcd's size limit); or, with
node status offloading, in Argo's own database, leaving only ``status.offloadNodeStatusVersion``.
The last case is recorded as a run whose steps are offloaded: we never invent steps.

Values Postgres (or asyncpg) cannot store never cost the run; each is recorded as absent, or
cleaned, and reported as a warning of its kind:

* ``bad_time``: a time outside what can be stored: one that leaves Python's years 1..9999 once in
  UTC (``0001-01-01T00:00:00+14:00``), or falls on their very ends, which asyncpg writes as
  ±infinity. Go's zero time, ``0001-01-01T00:00:00Z``, is how Argo writes "unset": absent, no warning.
* ``out_of_range``: an integer that does not fit its 32-bit column (an exit code of 2**40, YAML's
  ``.inf``): absent.
* ``bad_seconds``: a duration in ``resourcesDuration`` or ``estimatedDuration`` that is not a
  whole number of seconds, is negative, or exceeds 2**53 - 1 (what a JSON number holds exactly, and
  beyond any real run): absent, the other resources of the map kept.
* ``bad_progress``: a ``status.progress`` that is not Argo's ``done/total``: absent.
* ``nul``: NUL characters, which no text or jsonb value can hold, removed from every string.
  Except from ``metadata.namespace`` and ``metadata.uid``: the namespace decides who may read the
  run and the uid is its id, so a cleaned one could file the run under another's; such an object
  is refused, as the API server itself would refuse it.

Identifying fields of another type than a string (a YAML list as ``metadata.name``) are refused
with ``TranslationError`` naming the field; other fields of a wrong type are treated as missing.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import uuid
import zlib
from datetime import datetime, timezone
from typing import Any, NamedTuple

import orjson

from runledger.agent.failures import failing_step
from runledger.core.run_state import (
    KNOWN_NODE_TYPES,
    KNOWN_PHASES,
    SHUTDOWN_STRATEGIES,
    ArtifactRef,
    Parameter,
    Run,
    RunState,
    Step,
    trusted,
)
from runledger.core.artifact_locations import (
    RepositoryRegistry,
    S3Repository,
    repository_from_argo,
)

# Stable namespace for ids of hand-made objects that carry no metadata.uid.
_RUN_ID_NAMESPACE = uuid.UUID("6f1d3c2e-8a5b-4e4f-9a61-2b7f0c5d9e13")
_MAX_COMPRESSED_NODES_BYTES = 64 * 1024 * 1024

LABEL_KFP_RUN_ID = "pipeline/runid"
LABEL_KFP_SCHEDULED = "scheduledworkflows.kubeflow.org/scheduledWorkflowName"
LABEL_ARGO_CRON = "workflows.argoproj.io/cron-workflow"
LABEL_ARGO_TEMPLATE = "workflows.argoproj.io/workflow-template"
LABEL_ARGO_CLUSTER_TEMPLATE = "workflows.argoproj.io/cluster-workflow-template"
ANNOTATION_KFP_PIPELINE_SPEC = "pipelines.kubeflow.org/pipeline_spec"
ANNOTATION_POD_NAME_FORMAT = "workflows.argoproj.io/pod-name-format"
_EMPTY: dict[str, Any] = {}  # read-only stand-in for an absent or malformed mapping
_STORAGE_KINDS = ("s3", "gcs", "http", "artifactory", "hdfs", "oss", "git", "raw", "azure", "plugin")
_ARGO_MAX_POD_NAME_PREFIX = 253 - 10 - 1  # k8s name limit - hash length - separator
_IDENTITY_FIELDS = ("name", "generateName", "namespace", "uid")
_NUL_REFUSED = ("namespace", "uid")  # see the module docstring
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_UTC = timezone.utc
_ZERO_TIME = datetime(1, 1, 1, tzinfo=_UTC)  # Go's time.Time{}
_MAX_SECONDS = 2**53 - 1
_PROGRESS = re.compile(r"[0-9]{1,18}/[0-9]{1,18}")
# Measured sizes of translated rows (sys.getsizeof over their objects, strings included), per row of each
# kind: what a queued state or a NodeMemo holds in memory, before the text of its longer values.
RUN_BYTES, STEP_BYTES, PARAMETER_BYTES, ARTIFACT_BYTES, EDGE_BYTES = 5_000, 1_500, 450, 850, 210
# One string object for each known type and phase, not one per node of every event: a memo keeps them.
_KNOWN_NAMES = {name: name for name in KNOWN_NODE_TYPES | KNOWN_PHASES}


class TranslationError(ValueError):
    """The object cannot be read as a Workflow. The message says why, naming the object."""


def run_id_for(metadata: dict[str, Any]) -> str:
    uid = metadata.get("uid")
    if isinstance(uid, str) and uid:
        return uid
    return str(uuid.uuid5(_RUN_ID_NAMESPACE, f"{metadata.get('namespace') or 'default'}/{metadata.get('name')}"))


def check_kind(obj: Any, *, kind: str, api_group: str) -> str:
    """Refuse what is not a `kind` of `api_group` ('' for the core API); returns namespace/name.

    kind and apiVersion may be absent (list items, hand-made objects), but never wrong.
    """
    if not isinstance(obj, dict):
        raise TranslationError(f"expected a {kind} object, got {type(obj).__name__}")
    ref = object_ref(obj)
    if obj.get("kind") is not None and obj["kind"] != kind:
        raise TranslationError(f"{ref}: kind {obj['kind']!r} is not a {kind}")
    api_version = obj.get("apiVersion")
    group = str(api_version).rpartition("/")[0]
    if api_version is not None and group != api_group:
        raise TranslationError(f"{ref}: apiVersion {api_version!r} is not {api_group or 'the core v1 API'}")
    return ref


def object_ref(obj: Any) -> str:
    """namespace/name of whatever was received, for error messages; never raises."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return "<no metadata>"
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or '<unnamed>'}"


def check_identity(meta: dict[str, Any], *, ref: str) -> None:
    """Refuse identifying metadata that is not a string, and a namespace or uid holding a NUL."""
    for name in _IDENTITY_FIELDS:
        value = meta.get(name)
        if value is not None and not isinstance(value, str):
            raise TranslationError(f"{ref}: metadata.{name} must be a string, not a {type(value).__name__}")
    for name in _NUL_REFUSED:
        if "\x00" in (meta.get(name) or ""):
            raise TranslationError(f"{ref}: metadata.{name} holds a NUL character")


def text_holds_no_nul(text: str | bytes) -> bool:
    """Whether JSON `text` decodes to strings none of which holds a NUL, by a substring test on the text.

    JSON can write a NUL only as the escape \\u0000 (a raw control character is not JSON), so a text
    without it has none, and its decoded object need not be serialised again to look (a third of a
    translation). A false alarm (an escaped backslash before "u0000") only costs that look.
    """
    return (b"\\u0000" if isinstance(text, bytes) else "\\u0000") not in text


def without_nul(obj: Any) -> tuple[Any, int]:
    """`obj` with NUL characters removed from every string (keys included), and how many strings held one.

    The common case, no NUL anywhere, is found by one pass in C and returns `obj` itself.
    """
    try:
        if b"\\u0000" not in orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS):
            return obj, 0
    except TypeError:  # what JSON cannot hold (integers beyond 64 bits, YAML's binary): look closer
        pass
    counter = [0]
    return _strip_nul(obj, counter), counter[0]


def nul_warning(count: int) -> str:
    return f"nul: NUL characters removed from {count} string(s); Postgres text cannot hold them"


def _strip_nul(value: Any, counter: list[int]) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            counter[0] += 1
            return value.replace("\x00", "")
        return value
    if isinstance(value, dict):
        return {_strip_nul(k, counter): _strip_nul(v, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v, counter) for v in value]
    return value


def translate_workflow(
    obj: Any,
    *,
    deleted: bool = False,
    default_pod_name_format: str = "v2",
    max_value_bytes: int = 256 * 1024,
    repositories: RepositoryRegistry | None = None,
    memo: NodeMemo | None = None,
    nul_free: bool = False,
) -> RunState:
    """Translate one Workflow object into a RunState.

    `repositories` locates key-only S3 artifacts whose workflow does not carry its resolved
    repository inline (see runledger.core.artifact_locations for the order). `memo`, given the same one
    for every object of one workflow, makes each node whose content did not change since the last
    call cost a digest instead of a translation. `nul_free` says the JSON text the object was decoded
    from passed `text_holds_no_nul`, so no string of it is searched for NUL characters.
    """
    ref = check_kind(obj, kind="Workflow", api_group="argoproj.io")
    warnings: list[str] = []
    obj, meta = _named_metadata(obj, ref=ref, nul_free=nul_free, warnings=warnings)
    spec = _dict(obj.get("spec"))
    status = _dict(obj.get("status"))
    if not status:
        warnings.append("no_status: the workflow has not been picked up by the controller yet")
    namespace = _str(meta.get("namespace")) or "default"
    name = _str(meta["name"])
    annotations = {str(k): _str(v) for k, v in _dict(meta.get("annotations")).items()}
    clip = _Clipper(max_value_bytes)
    nodes, offloaded = _nodes_of(status, ref=ref, warnings=warnings)
    steps, edges, parameters, artifacts = _workflow_steps(
        nodes, name=name, namespace=namespace, annotations=annotations, status=status,
        default_pod_name_format=default_pod_name_format, repositories=repositories, clip=clip,
        warnings=warnings, memo=memo,
    )  # fmt: skip
    arguments = _arguments_of(spec, clip=clip)
    run = _run_of(meta, spec=spec, status=status, namespace=namespace, name=name, annotations=annotations,
                  arguments=arguments, steps=steps, edges=edges, offloaded=offloaded, clip=clip,
                  warnings=warnings)  # fmt: skip
    if clip.truncated:
        warnings.append(f"truncated: {clip.truncated} value(s) longer than {max_value_bytes} bytes")
    return _run_state(run, meta=meta, steps=steps, edges=edges, parameters=parameters + arguments,
                      artifacts=artifacts, deleted=deleted, warnings=warnings)  # fmt: skip


def _workflow_steps(
    nodes: dict[str, Any],
    *,
    name: str,
    namespace: str,
    annotations: dict[str, str],
    status: dict[str, Any],
    default_pod_name_format: str,
    repositories: RepositoryRegistry | None,
    clip: _Clipper,
    warnings: list[str],
    memo: NodeMemo | None,
) -> tuple[list[Step], list[tuple[str, str]], list[Parameter], list[ArtifactRef]]:
    """The workflow's nodes as steps, with the pod name format and artifact repository it names."""
    pod_name_format = annotations.get(ANNOTATION_POD_NAME_FORMAT) or default_pod_name_format
    repository_ref = _dict(status.get("artifactRepositoryRef"))
    if memo is not None:
        memo.enter(name, namespace, pod_name_format, clip.limit, repository_ref, repositories)
    return _steps_of(
        nodes,
        workflow=name,
        pod_name_format=pod_name_format,
        repository=_Repository(namespace, repository_ref, repositories),
        clip=clip,
        warnings=warnings,
        memo=memo,
    )


def _run_state(
    run: Run,
    *,
    meta: dict[str, Any],
    steps: list[Step],
    edges: list[tuple[str, str]],
    parameters: list[Parameter],
    artifacts: list[ArtifactRef],
    deleted: bool,
    warnings: list[str],
) -> RunState:
    """The translated parts as one RunState, each edge, parameter and artifact once."""
    return trusted(
        RunState,
        {
            "run": run,
            "steps": tuple(steps),
            "edges": tuple(dict.fromkeys(edges)),
            "parameters": tuple(_unique(parameters, lambda p: (p.step_id, p.direction, p.name))),
            "artifacts": tuple(_unique(artifacts, lambda a: (a.step_id, a.direction, a.name))),
            "deleted": bool(deleted),
            "deletion_timestamp": _time(
                meta.get("deletionTimestamp"), at="metadata.deletionTimestamp", warnings=warnings
            ),
            "warnings": tuple(warnings),
        },
    )


def _named_metadata(
    obj: dict[str, Any], *, ref: str, nul_free: bool, warnings: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The object cleaned of NUL characters, and its metadata with a name, or TranslationError."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise TranslationError(f"{ref}: metadata is missing")
    check_identity(meta, ref=ref)
    obj, stripped = (obj, 0) if nul_free else without_nul(obj)
    if stripped:
        warnings.append(nul_warning(stripped))
        meta = obj["metadata"]
    if not _str(meta.get("name")):
        if not _str(meta.get("generateName")):
            raise TranslationError(f"{ref}: metadata.name and metadata.generateName are both missing")
        # A manifest as written, before the API server named it: recorded under its generateName.
        meta = {**meta, "name": _str(meta["generateName"])}
        warnings.append("unnamed: no metadata.name, recorded under metadata.generateName")
    return obj, meta


def _steps_of(
    nodes: dict[str, Any],
    *,
    workflow: str,
    pod_name_format: str,
    repository: _Repository,
    clip: _Clipper,
    warnings: list[str],
    memo: NodeMemo | None = None,
) -> tuple[list[Step], list[tuple[str, str]], list[Parameter], list[ArtifactRef]]:
    """A step per node, in one pass that also gathers the nodes' edges, parameters and artifacts.

    This loop is the agent's hottest code: lookups are bound once and the common case (a field
    that is a string, or absent) is tested inline before the general helpers run. With a memo, a
    node whose digest it holds is not translated again: what it made last time is taken as it is.
    """
    steps, edges, parameters, artifacts = [], [], [], []  # typed by the return annotation
    add_step = steps.append
    last, kept = (memo.nodes, {}) if memo is not None else (_EMPTY, None)
    size = 0
    for key, node in nodes.items():
        if not isinstance(node, dict):
            warnings.append(f"malformed_node: node {key!r} is not an object; skipped")
            continue
        if kept is not None:
            digest = _digest(node)
            made = last.get(key)
            if made is not None and made.digest == digest:
                made.add_to(steps, edges, parameters, artifacts, warnings, clip)
                kept[key] = made
                size += made.size
                continue
            marks = (len(edges), len(parameters), len(artifacts), len(warnings), clip.truncated)
        node_id = _str(node.get("id")) or str(key)
        outputs = node.get("outputs")
        outputs = outputs if isinstance(outputs, dict) else _EMPTY
        inputs = node.get("inputs")
        inputs = inputs if isinstance(inputs, dict) else _EMPTY
        add_step(_step_of(node, node_id=node_id, outputs=outputs, workflow=workflow,
                          pod_name_format=pod_name_format, clip=clip, warnings=warnings))  # fmt: skip
        _add_children(node_id, node.get("children"), edges=edges)
        if inputs or outputs:
            _io_of(node_id, inputs, outputs, repository=repository, clip=clip, params=parameters, artifacts=artifacts)
        if kept is not None and digest is not None:
            made = kept[key] = _Made.since(marks, digest, steps, edges, parameters, artifacts, warnings, clip)
            size += made.size
    if memo is not None:
        memo.nodes, memo.size = kept, size
    return steps, edges, parameters, artifacts


def _add_children(node_id: str, children: Any, *, edges: list[tuple[str, str]]) -> None:
    """An edge from the node to each child it names."""
    if isinstance(children, list):
        for child in children:
            if isinstance(child, str) and child:
                edges.append((node_id, child))


def _step_of(
    node: dict[str, Any],
    *,
    node_id: str,
    outputs: dict[str, Any],
    workflow: str,
    pod_name_format: str,
    clip: _Clipper,
    warnings: list[str],
) -> Step:
    """One node as a step; unknown types and phases are kept verbatim and warned about."""
    get = node.get
    node_type = _str(get("type"))
    node_type = _KNOWN_NAMES.get(node_type, node_type)
    phase = _str(get("phase"))
    phase = _KNOWN_NAMES.get(phase, phase)
    if node_type not in KNOWN_NODE_TYPES or phase not in KNOWN_PHASES:
        _warn_unknown_node(node_id, node_type=node_type, phase=phase, warnings=warnings)
    template = get("templateName")
    if template.__class__ is not str or not template:
        template = _template_name(node)
    node_name = _str(get("name")) or node_id
    message = get("message")
    return trusted(
        Step,
        {
            "id": node_id,
            "name": node_name,
            "display_name": _str(get("displayName")) or None,
            "type": node_type,
            "template": template,
            "phase": phase,
            "boundary_id": _str(get("boundaryID")) or None,
            "pod_name": _pod_name(workflow, node_name, node_type, template, node_id, pod_name_format)
            if node_type == "Pod"
            else None,
            "started_at": _time(get("startedAt"), at="a node's startedAt", warnings=warnings),
            "finished_at": _time(get("finishedAt"), at="a node's finishedAt", warnings=warnings),
            "exit_code": _int32(outputs.get("exitCode"), at="a node's exitCode", warnings=warnings),
            "message": None if message is None else clip.text(message),
            "host_node": _str(get("hostNodeName")) or None,
            "resources_duration": _resources(resources, at=f"node {node_id}'s resourcesDuration", warnings=warnings)
            if (resources := get("resourcesDuration"))
            else {},
        },
    )


def _warn_unknown_node(node_id: str, *, node_type: str, phase: str, warnings: list[str]) -> None:
    if node_type not in KNOWN_NODE_TYPES:
        if not node_type:
            warnings.append(f"untyped_node: node {node_id} has no type")
        else:
            warnings.append(f"unknown_node_type: node {node_id} has type {node_type!r}")
    if phase not in KNOWN_PHASES:
        warnings.append(f"unknown_phase: node {node_id} has phase {phase!r}")


def _io_of(
    node_id: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    *,
    repository: _Repository,
    clip: _Clipper,
    params: list[Parameter],
    artifacts: list[ArtifactRef],
) -> None:
    """Appends a node's input and output parameters and artifacts; nameless ones are skipped."""
    for direction, io in (("input", inputs), ("output", outputs)):
        for param in _list(io.get("parameters")):
            if isinstance(param, dict) and param.get("name"):
                value, truncated = clip.value(param.get("value", param.get("default")))
                params.append(_parameter(node_id, direction, _str(param["name"]), value, truncated))
        for art in _list(io.get("artifacts")):
            if isinstance(art, dict) and art.get("name"):
                artifacts.append(_artifact(node_id, direction, art, repository))


def _arguments_of(spec: dict[str, Any], *, clip: _Clipper) -> list[Parameter]:
    """The run's arguments (spec.arguments.parameters), as parameters of no step."""
    arguments: list[Parameter] = []
    for param in _list(_dict(spec.get("arguments")).get("parameters")):
        if isinstance(param, dict) and param.get("name"):
            value, truncated = clip.value(param.get("value", param.get("default")))
            arguments.append(_parameter("", "argument", _str(param["name"]), value, truncated))
    return arguments


def _step_counts(steps: list[Step]) -> dict[str, int]:
    step_counts: dict[str, int] = {}
    for step in steps:
        step_counts[step.phase or "Unknown"] = step_counts.get(step.phase or "Unknown", 0) + 1
    return step_counts


def _run_of(
    meta: dict[str, Any],
    *,
    spec: dict[str, Any],
    status: dict[str, Any],
    namespace: str,
    name: str,
    annotations: dict[str, str],
    arguments: list[Parameter],
    steps: list[Step],
    edges: list[tuple[str, str]],
    offloaded: bool,
    clip: _Clipper,
    warnings: list[str],
) -> Run:
    labels = {str(k): _str(v) for k, v in _dict(meta.get("labels")).items()}
    run = trusted(
        Run,
        {
            "id": run_id_for(meta),
            "namespace": namespace,
            "name": name,
            "uid": _str(meta.get("uid")) or None,
            "kfp_run_id": labels.get(LABEL_KFP_RUN_ID) or None,
            "pipeline_name": _pipeline_name(meta, labels, annotations, spec),
            "scheduled_workflow": _scheduled_owner(meta, labels),
            "phase": _str(status.get("phase")),
            "message": clip.text(status.get("message")),
            "shutdown": clip.text(spec.get("shutdown")) or _deadline_termination(spec),
            "created_at": _time(meta.get("creationTimestamp"), at="metadata.creationTimestamp", warnings=warnings),
            "started_at": _time(status.get("startedAt"), at="status.startedAt", warnings=warnings),
            "finished_at": _time(status.get("finishedAt"), at="status.finishedAt", warnings=warnings),
            "labels": labels,
            "parameters": {p.name: p.value for p in arguments},
            "step_counts": _step_counts(steps),
            "nodes_offloaded": offloaded,
            "resources_duration": _resources(
                status.get("resourcesDuration"), at="status.resourcesDuration", warnings=warnings
            ),
            "progress": _progress(status.get("progress"), warnings=warnings),
            "estimated_duration": _seconds(
                status.get("estimatedDuration"), at="status.estimatedDuration", warnings=warnings
            ),
            "resource_version": _str(meta.get("resourceVersion")) or None,
            "failed_step": failing_step(phase=_str(status.get("phase")), message=clip.text(status.get("message")),
                                        steps=steps, edges=edges),  # fmt: skip
        },
    )
    _warn_unknown_run(run, warnings=warnings)
    return run


def _warn_unknown_run(run: Run, *, warnings: list[str]) -> None:
    if run.phase not in KNOWN_PHASES:
        warnings.append(f"unknown_phase: workflow phase {run.phase!r}")
    if run.shutdown is not None and run.shutdown not in SHUTDOWN_STRATEGIES:
        warnings.append(f"unknown_shutdown: spec.shutdown {run.shutdown!r}")


def _nodes_of(status: dict[str, Any], *, ref: str, warnings: list[str]) -> tuple[dict[str, Any], bool]:
    """The node map, wherever Argo put it, and whether it was offloaded to Argo's database."""
    nodes = status.get("nodes")
    if isinstance(nodes, dict) and nodes:
        return nodes, False
    compressed = status.get("compressedNodes")
    if isinstance(compressed, str) and compressed:
        # Decompressed just now, so the NUL check of the object as a whole did not see them.
        nodes, stripped = without_nul(decompress_nodes(compressed, ref))
        if stripped:
            warnings.append(nul_warning(stripped))
        return nodes, False
    if status.get("offloadNodeStatusVersion"):
        return {}, True
    return {}, False


def decompress_nodes(text: str, ref: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode(text, validate=True)
        # Bounded decompression: a hostile or corrupt blob must not exhaust memory.
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        data = inflater.decompress(raw, _MAX_COMPRESSED_NODES_BYTES)
        if inflater.unconsumed_tail:
            raise TranslationError(f"{ref}: status.compressedNodes inflates beyond {_MAX_COMPRESSED_NODES_BYTES} bytes")
        nodes = orjson.loads(data)
    except (binascii.Error, zlib.error, gzip.BadGzipFile, orjson.JSONDecodeError, EOFError) as exc:
        raise TranslationError(f"{ref}: status.compressedNodes is not gzip+base64 JSON: {exc}") from exc
    if not isinstance(nodes, dict):
        raise TranslationError(f"{ref}: status.compressedNodes does not hold a node map")
    return nodes


class NodeMemo:
    """What the last translation of one workflow made of each of its nodes, by node key and digest.

    A watch event carries the whole workflow, yet a MODIFIED event of a running one usually
    changes one node of many: translating all of them again was most of the agent's CPU per
    event. A node is made again only when its content or what its translation reads besides it
    (the workflow's name and namespace, the pod name format, the value limit, the artifact
    repository) changed. Holds the steps, edges, parameters and artifact references of one state of
    the workflow, which the queued state shares while it waits; `size` is their estimated bytes.
    """

    __slots__ = ("context", "nodes", "size")

    def __init__(self) -> None:
        self.context: tuple = ()
        self.nodes: dict[Any, _Made] = {}
        self.size = 0

    def enter(
        self,
        name: str,
        namespace: str,
        pod_name_format: str,
        max_value_bytes: int,
        repository_ref: dict[str, Any],
        registry: RepositoryRegistry | None,
    ) -> None:
        """Forget every node if anything a node's translation reads besides the node changed."""
        generation = None if registry is None else (id(registry), registry.generation)
        # A reference JSON cannot hold digests to None: an object() then matches no earlier context.
        context = (name, namespace, pod_name_format, max_value_bytes, _digest(repository_ref) or object(), generation)
        if context != self.context:
            self.context = context
            self.nodes, self.size = {}, 0


class _Made(NamedTuple):
    """What one node made: its step, and the edges, parameters, artifacts and warnings it added."""

    digest: int
    step: Step
    edges: tuple[tuple[str, str], ...]
    parameters: tuple[Parameter, ...]
    artifacts: tuple[ArtifactRef, ...]
    warnings: tuple[str, ...]
    truncated: int
    size: int  # estimated bytes of its rows

    @classmethod
    def since(cls, marks: tuple[int, ...], digest: int, steps: list, edges: list, parameters: list,
              artifacts: list, warnings: list, clip: _Clipper) -> _Made:  # fmt: skip
        """What the node translated last added, given the lengths (`marks`) before it."""
        e, p, a, w, t = marks
        made = (tuple(edges[e:]), tuple(parameters[p:]), tuple(artifacts[a:]))
        size = (STEP_BYTES + EDGE_BYTES * len(made[0]) + PARAMETER_BYTES * len(made[1])
                + ARTIFACT_BYTES * len(made[2]) + sum(len(p.value) for p in made[1] if p.value))  # fmt: skip
        return cls(digest, steps[-1], *made, tuple(warnings[w:]), clip.truncated - t, size)

    def add_to(self, steps: list, edges: list, parameters: list, artifacts: list, warnings: list,
               clip: _Clipper) -> None:  # fmt: skip
        steps.append(self.step)
        edges += self.edges
        if self.parameters:
            parameters += self.parameters
        if self.artifacts:
            artifacts += self.artifacts
        if self.warnings:  # counted again, as they would be were the node translated again
            warnings += self.warnings
        clip.truncated += self.truncated


def _digest(value: Any, _dumps=orjson.dumps, _option=orjson.OPT_NON_STR_KEYS) -> int | None:
    """A digest of a JSON value (64-bit, as the writer's fingerprints), or None if JSON cannot hold it."""
    try:
        return hash(_dumps(value, option=_option))
    except TypeError:  # integers beyond 64 bits, YAML's binary: translated every time
        return None


class _Repository:
    """The workflow's artifact repository, resolved once and only if a key-only artifact needs it."""

    def __init__(self, namespace: str, ref: dict[str, Any], registry: RepositoryRegistry | None) -> None:
        self._namespace = namespace
        self._ref = ref
        self._registry = registry
        self._resolved: tuple[S3Repository | None, str] | None = None

    def get(self) -> tuple[S3Repository | None, str]:
        if self._resolved is None:
            inline = repository_from_argo(self._ref.get("artifactRepository"))
            if inline is not None:
                self._resolved = (inline, "workflow-repository")
            elif self._registry is not None:
                found = self._registry.resolve(namespace=self._namespace, ref=self._ref)
                self._resolved = (found, "configured-repository" if found else "unresolved")
            else:
                self._resolved = (None, "unresolved")
        return self._resolved


def _artifact(node_id: str, direction: str, art: dict[str, Any], repository: _Repository) -> ArtifactRef:
    s3 = art.get("s3")
    if isinstance(s3, dict):  # the common case, and the first of _STORAGE_KINDS
        storage: str | None = "s3"
    else:
        s3 = _EMPTY
        storage = next((kind for kind in _STORAGE_KINDS if isinstance(art.get(kind), dict)), None)
    archive = _dict(art.get("archive"))
    bucket = _str(s3.get("bucket")) or None
    endpoint = _str(s3.get("endpoint")) or None
    region = _str(s3.get("region")) or None
    insecure = s3["insecure"] if isinstance(s3.get("insecure"), bool) else None
    source = "artifact"
    if storage == "s3" and not (bucket and endpoint):
        # Argo fills what an artifact's own location lacks from the workflow's repository (key-only
        # artifacts, the Argo >= 3.0 default, take everything but the key from it).
        repo, repo_source = repository.get()
        if repo is not None:
            source = repo_source
            bucket = bucket or repo.bucket
            endpoint = endpoint or repo.endpoint
            region = region or repo.region
            insecure = repo.insecure if insecure is None else insecure
        elif not bucket:
            source = "unresolved"
    archive_kind = next(iter(archive), None)
    return trusted(
        ArtifactRef,
        {
            "step_id": node_id,
            "direction": direction,
            "name": _str(art["name"]),
            "path": _str(art.get("path")) or None,
            "storage": storage,
            "s3_bucket": bucket,
            "s3_key": _str(s3.get("key")) or None,
            "s3_endpoint": endpoint,
            "s3_region": region,
            "s3_insecure": insecure,
            "location_source": source,
            # YAML may make a key of another type; anything else here is a string already.
            "archive": None if archive_kind is None else _str(archive_kind),
            "optional": bool(art.get("optional")),
        },
    )


def _parameter(step_id: str, direction: str, name: str, value: str | None, truncated: bool) -> Parameter:
    return trusted(
        Parameter, {"step_id": step_id, "direction": direction, "name": name, "value": value, "truncated": truncated}
    )


def _template_name(node: dict[str, Any]) -> str | None:
    ref = _dict(node.get("templateRef"))
    return _str(node.get("templateName")) or _str(ref.get("template")) or None


def _pod_name(wf_name: str, node_name: str, node_type: str, template: str | None, node_id: str, fmt: str) -> str:
    """The pod Argo creates for a Pod node (workflow/util/pod_name.go semantics)."""
    if fmt == "v1":
        return node_id
    if wf_name == node_name:
        return wf_name
    prefix = f"{wf_name}-{template}" if template else wf_name
    return f"{prefix[:_ARGO_MAX_POD_NAME_PREFIX]}-{fnv32a(node_name.encode())}"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _pipeline_name(
    meta: dict[str, Any], labels: dict[str, str], annotations: dict[str, str], spec: dict[str, Any]
) -> str | None:
    spec_json = annotations.get(ANNOTATION_KFP_PIPELINE_SPEC)
    if spec_json:
        try:
            name = orjson.loads(spec_json).get("name")
            if isinstance(name, str) and name:
                return name
        except (orjson.JSONDecodeError, AttributeError):
            pass
    v2_name = _kfp_v2_pipeline_name(spec)
    if v2_name:
        return v2_name
    for label in (LABEL_ARGO_TEMPLATE, LABEL_ARGO_CLUSTER_TEMPLATE):
        if labels.get(label):
            return labels[label]
    template_ref = _dict(spec.get("workflowTemplateRef"))
    if template_ref.get("name"):
        return _str(template_ref["name"])
    generate_name = _str(meta.get("generateName")).rstrip("-")
    return generate_name or None


def _kfp_v2_pipeline_name(spec: dict[str, Any]) -> str | None:
    """KFP v2 passes the pipeline name to its driver/launcher containers as --pipeline_name."""
    for template in _list(spec.get("templates")):
        args = _list(_dict(_dict(template).get("container")).get("args"))
        for i, arg in enumerate(args[:-1]):
            if arg == "--pipeline_name" and isinstance(args[i + 1], str) and "{{" not in args[i + 1]:
                return args[i + 1]
    return None


def _deadline_termination(spec: dict[str, Any]) -> str | None:
    """Terminate when spec.activeDeadlineSeconds is 0: how KFP terminates a run (and older Argo's
    `argo terminate`), which the controller then stops as it would for spec.shutdown Terminate."""
    deadline = spec.get("activeDeadlineSeconds")
    return "Terminate" if deadline == 0 and not isinstance(deadline, bool) else None


def _scheduled_owner(meta: dict[str, Any], labels: dict[str, str]) -> str | None:
    for label in (LABEL_KFP_SCHEDULED, LABEL_ARGO_CRON):
        if labels.get(label):
            return labels[label]
    for owner in _list(meta.get("ownerReferences")):
        if isinstance(owner, dict) and owner.get("kind") in ("ScheduledWorkflow", "CronWorkflow"):
            return _str(owner.get("name")) or None
    return None


class _Clipper:
    """Caps stored text at a byte budget, counting what it cut."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.truncated = 0

    def value(self, raw: Any) -> tuple[str | None, bool]:
        if raw is None:
            return None, False
        text = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
        encoded = text.encode()
        if len(encoded) <= self.limit:
            return text, False
        self.truncated += 1
        return encoded[: self.limit].decode(errors="ignore"), True

    def text(self, raw: Any) -> str | None:
        value, _ = self.value(raw)
        return value or None


def _unique(items: list, key) -> list:
    seen: dict = {}
    for item in items:
        seen[key(item)] = item
    return list(seen.values())


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):  # a wrong type is missing, not its Python repr
        return ""
    return value if isinstance(value, str) else str(value)


def _int32(value: Any, *, at: str, warnings: list[str]) -> int | None:
    """An integer for an int4 column; unparsable is absent, out of range is absent and reported."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an infinite float
        number = None
    if number is not None and _INT32_MIN <= number <= _INT32_MAX:
        return number
    warnings.append(f"out_of_range: {at} {_shown(value)} does not fit a 32-bit integer; recorded as absent")
    return None


def _resources(value: Any, *, at: str, warnings: list[str]) -> dict[str, int]:
    """resource -> seconds; each bad value is left out and reported, the others kept."""
    if not value or not isinstance(value, dict):
        return {}
    resources: dict[str, int] = {}
    for name, seconds in value.items():
        kept = _seconds(seconds, at=f"{at}[{_shown(name)}]", warnings=warnings)
        if kept is not None:
            resources[str(name)] = kept
    return resources


def _seconds(value: Any, *, at: str, warnings: list[str]) -> int | None:
    """A whole, non-negative number of seconds (Argo writes int64); anything else is absent and reported."""
    if value is None:
        return None
    if value.__class__ is int and 0 <= value <= _MAX_SECONDS:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= _MAX_SECONDS:
        return int(value)
    warnings.append(
        f"bad_seconds: {at} {_shown(value)} is not a whole number of seconds from 0 to 2**53-1; recorded as absent"
    )
    return None


def _progress(value: Any, *, warnings: list[str]) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and _PROGRESS.fullmatch(value):
        return value
    warnings.append(f"bad_progress: status.progress {_shown(value)} is not done/total; recorded as absent")
    return None


def _time(value: Any, *, at: str, warnings: list[str]) -> datetime | None:
    """RFC 3339 timestamps as Kubernetes writes them; unparsable ones and Go's zero time are absent.

    Those that cannot be stored (see the module docstring) are absent too, and reported.
    """
    if value is None:
        return None
    if isinstance(value, datetime):  # YAML loaders turn unquoted timestamps into datetimes
        parsed = value
    elif not isinstance(value, str) or not value:
        return None
    else:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    if 1 < parsed.year < 9999:  # the common case: no offset can take it out of range
        return parsed
    try:
        utc = parsed.astimezone(_UTC)
    except OverflowError:
        utc = None
    if utc == _ZERO_TIME:
        return None
    if utc is None or utc.replace(tzinfo=None) in (datetime.min, datetime.max):
        warnings.append(f"bad_time: {at} {_shown(value)} is outside what can be stored; recorded as absent")
        return None
    return parsed


def _shown(value: Any) -> str:
    """A bad value for a warning line: recognisable, never long."""
    text = value.isoformat() if isinstance(value, datetime) else repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
