"""Runs in Kubeflow Pipelines' shapes: the repository and translation behind /apis/v1beta1 and /apis/v2beta1.

KFP's own API server keeps runs in its database; runledger keeps what the Argo Workflows said. This
module answers KFP's read calls (ListRuns, GetRun) from runledger's tables so that KFP tooling (the
``kfp`` SDK's Client, the KFP UI, scripts written against KFP's REST API) works against runledger.
The source of truth for every shape is KFP's protos/swagger (backend/api/{v1beta1,v2beta1}); the JSON
follows KFP's gateway marshaller: proto field names, unpopulated fields left out.

Mapping decisions (each one is the closest thing KFP itself would report):

- **Ids.** A run's id is KFP's run id (label ``pipeline/runid``) when the workflow has one, else
  runledger's id (the workflow uid). Lookups accept either.
- **States.** Argo phase -> v2 RuntimeState: ''/Pending -> PENDING (KFP creates runs PENDING before the
  controller picks them up), Running -> RUNNING, Succeeded -> SUCCEEDED, Failed/Error -> FAILED. A run
  asked to stop (``spec.shutdown`` set: ``argo terminate``/``argo stop``) is CANCELING while its phase is
  still ''/Pending/Running, and CANCELED once it ends Failed/Error, when its shutdown is Terminate or Stop
  or its message says it was stopped ("Stopped with strategy 'Stop'|'Terminate'"). Anything else ->
  RUNTIME_STATE_UNSPECIFIED. v1 ``status`` is the Argo phase itself (Pending when still empty), as KFP
  1.x served it, except that CANCELING is "Terminating", KFP's v1 name for it. CANCELING is not in
  ``state_history`` (runledger does not know when the stop was asked, and KFP does not record it
  there either); PAUSED is never reported: runledger does not record suspension.
- **From KFP's database.** A run that ``runledger import kfp`` read (``kfp_run_details``) reports what
  KFP keeps and the Workflow does not: its display name, its experiment (v2 ``experiment_id``, v1 an
  EXPERIMENT resource reference with its name), its pipeline id, and its storage state (ARCHIVED once
  archived in KFP). A run only watched has none of these: its display name is the workflow's name and
  its storage state AVAILABLE (a workflow deleted from the cluster is not archived: KFP's persistence
  agent itself deletes every workflow a day after it finishes, while the run stays available).
- ``scheduled_at`` is a recurring run's scheduled time (label
  ``scheduledworkflows.kubeflow.org/workflowEpoch``), else its creation time.
- Not recorded, so never reported, and refused as filters: pipeline version and recurring run ids,
  description, service account, pipeline spec; experiment and pipeline ids are reported, not filtered.

Lists are keyset-paged like runledger's own (a deep page costs what the first does). KFP's page token
carries the query it was issued for, and KFP clients often send only the token for later pages; so does
ours, and a token sent with a sort or filter other than its own is refused (400), never misapplied.
Parsing those requests (filter, sort_by, page tokens) lives in runledger/kfp/list_requests.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict

from runledger.core.run_state import SHUTDOWN_STRATEGIES, TERMINAL_PHASES
from runledger.kfp.list_requests import FIELDS, ListQuery, page_token
from runledger.store import paging
from runledger.store import run_history as run_repo
from runledger.store.read_errors import BadRequest
from runledger.store.read_models import (
    MetricOut,
    RunOut,
    StepIO,
    StepOut,
    Timestamp,
    TransitionOut,
    finite,
)
from runledger.store.page_tokens import Cursor
from runledger.store.sql_blocks import Statement, q

DEFAULT_PAGE_SIZE = 20  # KFP's list defaults (backend/src/apiserver/list/list.go)
MAX_PAGE_SIZE = 200
GRPC_UNKNOWN = 2  # google.rpc.Code of a failed run or task's error

_SQL_OPS = {
    "EQUALS": "=", "NOT_EQUALS": "IS DISTINCT FROM", "GREATER_THAN": ">", "GREATER_THAN_EQUALS": ">=",
    "LESS_THAN": "<", "LESS_THAN_EQUALS": "<=",
}  # fmt: skip
_STOPPED = re.compile(r"^(Stopped with strategy '(Stop|Terminate)'|workflow shutdown with strategy: +(Stop|Terminate))")
_PHASE_STATES = {"": "PENDING", "Pending": "PENDING", "Running": "RUNNING", "Succeeded": "SUCCEEDED",
                 "Skipped": "SKIPPED", "Omitted": "SKIPPED", "Failed": "FAILED", "Error": "FAILED"}  # fmt: skip
LABEL_SCHEDULED_EPOCH = "scheduledworkflows.kubeflow.org/workflowEpoch"


def runtime_state(phase: str, message: str | None, *, shutdown: str | None = None) -> str:
    """The v2beta1 RuntimeState of an Argo phase (of a run or a node); agrees with SQL kfp_run_state.

    `shutdown` is the run's spec.shutdown (nodes have none).
    """
    state = _PHASE_STATES.get(phase, "RUNTIME_STATE_UNSPECIFIED")
    if state in ("PENDING", "RUNNING") and shutdown:
        return "CANCELING"
    if state == "FAILED" and (shutdown in SHUTDOWN_STRATEGIES or (message and _STOPPED.match(message))):
        return "CANCELED"
    return state


# --- response models (KFP's field names; None = unpopulated, left out of the JSON) ------------------


class _Proto(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RpcStatus(_Proto):
    """google.rpc.Status."""

    code: int
    message: str | None = None


class RuntimeStatus(_Proto):
    update_time: Timestamp
    state: str
    error: RpcStatus | None = None


class RuntimeConfig(_Proto):
    parameters: dict[str, str] | None = None


class ChildTask(_Proto):
    task_id: str
    pod_name: str | None = None


class PipelineTaskDetail(_Proto):
    run_id: str
    task_id: str
    display_name: str | None = None
    create_time: Timestamp | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    state: str
    error: RpcStatus | None = None
    parent_task_id: str | None = None
    state_history: list[RuntimeStatus] | None = None
    pod_name: str | None = None
    child_tasks: list[ChildTask] | None = None


class RunDetails(_Proto):
    task_details: list[PipelineTaskDetail] | None = None


class V2Run(_Proto):
    """v2beta1 Run."""

    run_id: str
    display_name: str
    experiment_id: str | None = None
    storage_state: Literal["AVAILABLE", "ARCHIVED"] = "AVAILABLE"
    runtime_config: RuntimeConfig
    created_at: Timestamp
    scheduled_at: Timestamp
    finished_at: Timestamp | None = None
    state: str
    run_details: RunDetails | None = None
    state_history: list[RuntimeStatus] | None = None


class V2ListRunsResponse(_Proto):
    runs: list[V2Run] | None = None
    total_size: int | None = None
    next_page_token: str | None = None


class ApiParameter(_Proto):
    name: str
    value: str | None = None


class ApiPipelineSpec(_Proto):
    pipeline_id: str | None = None
    pipeline_name: str | None = None
    parameters: list[ApiParameter] | None = None


class ApiResourceKey(_Proto):
    type: str
    id: str


class ApiResourceReference(_Proto):
    key: ApiResourceKey
    name: str | None = None
    relationship: str


class ApiRunMetric(_Proto):
    name: str
    node_id: str
    number_value: float
    format: str


class ApiRun(_Proto):
    """v1beta1 ApiRun."""

    id: str
    name: str
    storage_state: Literal["STORAGESTATE_AVAILABLE", "STORAGESTATE_ARCHIVED"] = "STORAGESTATE_AVAILABLE"
    pipeline_spec: ApiPipelineSpec | None = None
    resource_references: list[ApiResourceReference]
    created_at: Timestamp
    scheduled_at: Timestamp
    finished_at: Timestamp | None = None
    status: str
    metrics: list[ApiRunMetric] | None = None


class ApiListRunsResponse(_Proto):
    runs: list[ApiRun] | None = None
    total_size: int | None = None
    next_page_token: str | None = None


class ApiPipelineRuntime(_Proto):
    workflow_manifest: str


class ApiRunDetail(_Proto):
    run: ApiRun
    pipeline_runtime: ApiPipelineRuntime


class HealthzV1(_Proto):
    commit_sha: str
    tag_name: str
    multi_user: bool


class HealthzV2(HealthzV1):
    pipeline_store: str


class KfpError(_Proto):
    """The error body of both gateways: v1's ApiStatus (error, code, details) and v2's google.rpc.Status."""

    error: str
    code: int
    message: str
    details: list[dict[str, Any]]


# --- SQL ------------------------------------------------------------------------------------------


def _filters(query: ListQuery, sql: Statement, namespaces: frozenset[str] | None) -> None:
    if query.namespace is not None:
        sql.where("r.namespace = {namespace}", namespace=sql.bind(query.namespace))
    if namespaces is not None:
        sql.where("r.namespace = ANY({namespaces}::text[])", namespaces=sql.bind(sorted(namespaces)))
    for p in query.predicates:
        if p.key not in FIELDS:  # a forged token; parse_filter never lets one through
            raise BadRequest("page_token is malformed")
        expression, kind = FIELDS[p.key]
        values = list(p.texts if kind == "text" else p.times)
        if p.op == "IN":
            cast = "text[]" if kind == "text" else "timestamptz[]"
            sql.where("{field} = ANY({values}::{cast})", field=expression, values=sql.bind(values), cast=cast)
        elif not values:
            raise BadRequest("page_token is malformed")
        elif p.op == "IS_SUBSTRING":
            sql.where("strpos({field}, {value}) > 0", field=expression, value=sql.bind(values[0]))
        else:
            sql.where("{field} {op} {value}", field=expression, op=_SQL_OPS[p.op], value=sql.bind(values[0]))


class RunPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    rows: list[Any]
    next_page_token: str | None
    total_size: int


async def list_runs(
    conn: asyncpg.Connection,
    query: ListQuery,
    *,
    after: Cursor | None,
    page_size: int,
    namespaces: frozenset[str] | None = None,
) -> RunPage:
    """One page of runs and the number of runs the query matches (call inside one read-only snapshot).

    `namespaces` (None: all) is the caller's visibility, applied apart from the query: a page token
    carries the query, and must not carry what the caller may see.
    """
    sql = Statement()
    _filters(query, sql, namespaces)
    total = await paging.count(conn, sql, source="runs r")
    key, kind = query.sort_sql()
    if query.sort.startswith("metric:"):
        # Every run is listed; those that never reported the metric sort as -infinity (first ascending).
        sql.join("LEFT JOIN run_metrics sm ON sm.run_id = r.id AND sm.name = {metric}",
                 metric=sql.bind(query.sort[len("metric:"):]))  # fmt: skip
    order = paging.Order(key=key, kind=kind, id="r.id", descending=query.descending)
    page = await paging.fetch_page(
        conn, sql, columns=run_repo.run_columns(aliased=True), source="runs r", order=order, after=after, limit=page_size
    )
    token = page_token(query, page.next) if page.next is not None else None
    return RunPage(rows=page.rows, next_page_token=token, total_size=total)


async def find_run(conn: asyncpg.Connection, run_id: str) -> asyncpg.Record | None:
    """The run a KFP client means by `run_id`: KFP's run id first, else runledger's id."""
    return await conn.fetchrow(q("kfp_get_run", run_columns_r=run_repo.run_columns(aliased=True)), run_id)


async def run_histories(conn: asyncpg.Connection, run_ids: list[str]) -> dict[str, list[tuple[str, datetime]]]:
    """(phase entered, when) per run, oldest first."""
    histories: dict[str, list[tuple[str, datetime]]] = {}
    for t in await conn.fetch(q("kfp_run_transitions"), run_ids):
        histories.setdefault(t["run_id"], []).append((t["to_phase"], finite(t["at"]) or t["observed_at"]))
    return histories


async def run_metrics(conn: asyncpg.Connection, run_ids: list[str]) -> dict[str, list[ApiRunMetric]]:
    metrics: dict[str, list[ApiRunMetric]] = {}
    for m in await conn.fetch(q("kfp_run_metrics"), run_ids):
        metrics.setdefault(m["run_id"], []).append(
            ApiRunMetric(name=m["name"], node_id=m["step_id"], number_value=m["value"], format=m["format"])
        )
    return metrics


# --- translation ----------------------------------------------------------------------------------


def kfp_id(run: RunOut) -> str:
    return run.kfp_run_id or run.id


def _created(row: asyncpg.Record, run: RunOut) -> datetime:
    # Not sort_at: it is -infinity where an older agent stored a zero creation time as such.
    return run.created_at or row["first_seen_at"]


def scheduled_at(run: RunOut, created: datetime) -> datetime:
    epoch = run.labels.get(LABEL_SCHEDULED_EPOCH, "")
    if re.fullmatch(r"[0-9]{1,11}", epoch):
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    return created


def v1_status(phase: str, *, shutdown: str | None = None) -> str:
    """KFP v1's status: the Argo phase (Pending while empty), or Terminating; agrees with SQL kfp_v1_status."""
    if runtime_state(phase, None, shutdown=shutdown) == "CANCELING":
        return "Terminating"
    return phase or "Pending"


def _history(
    entries: list[tuple[str, datetime]], *, message: str | None, shutdown: str | None = None
) -> list[RuntimeStatus] | None:
    """Phase transitions as KFP state history: one entry per change of state (Failed then Error is one)."""
    out: list[RuntimeStatus] = []
    for i, (phase, at) in enumerate(entries):
        # Only the last entry is the current phase, the one the current message and shutdown belong to.
        # An unfinished phase keeps its state: when the stop was asked is unknown, so CANCELING is
        # not dated with the time the run entered Running.
        last = i == len(entries) - 1
        stopped = shutdown if last and phase in TERMINAL_PHASES else None
        state = runtime_state(phase, message if last else None, shutdown=stopped)
        if out and out[-1].state == state:
            continue
        error = RpcStatus(code=GRPC_UNKNOWN, message=message) if last and message and state in ("FAILED", "CANCELED") else None
        out.append(RuntimeStatus(update_time=at, state=state, error=error))
    return out or None


def v2_run(
    row: asyncpg.Record,
    *,
    history: list[tuple[str, datetime]],
    steps: list[StepOut] | None = None,
    transitions: list[TransitionOut] | None = None,
) -> V2Run:
    run = run_repo.run_from_row(row)
    created = _created(row, run)
    details = None
    if steps is not None:
        details = RunDetails(task_details=_task_details(kfp_id(run), steps, transitions or []) or None)
    kfp = run.kfp
    return V2Run(
        run_id=kfp_id(run),
        display_name=(kfp and kfp.display_name) or run.name,
        experiment_id=kfp.experiment_id if kfp else None,
        storage_state="ARCHIVED" if kfp and kfp.storage_state == "ARCHIVED" else "AVAILABLE",
        runtime_config=RuntimeConfig(parameters={k: v for k, v in run.parameters.items() if v is not None} or None),
        created_at=created,
        scheduled_at=scheduled_at(run, created),
        finished_at=run.finished_at,
        state=runtime_state(run.phase, run.message, shutdown=run.shutdown),
        run_details=details,
        state_history=_history(history, message=run.message, shutdown=run.shutdown),
    )


def _task_details(run_id: str, steps: list[StepOut], transitions: list[TransitionOut]) -> list[PipelineTaskDetail]:
    pods = {s.id: s.pod_name for s in steps}
    by_step: dict[str, list[tuple[str, datetime]]] = {}
    for t in transitions:
        if t.step_id:
            by_step.setdefault(t.step_id, []).append((t.to_phase, t.at))
    details = []
    for s in steps:
        state = runtime_state(s.phase, s.message)
        details.append(
            PipelineTaskDetail(
                run_id=run_id,
                task_id=s.id,
                display_name=s.display_name or s.name,
                create_time=s.started_at,
                start_time=s.started_at,
                end_time=s.finished_at,
                state=state,
                error=RpcStatus(code=GRPC_UNKNOWN, message=s.message) if s.message and state in ("FAILED", "CANCELED") else None,
                # The enclosing DAG/Steps node is the task's component scope.
                parent_task_id=s.boundary_id,
                state_history=_history(by_step.get(s.id, []), message=s.message),
                pod_name=s.pod_name,
                child_tasks=[ChildTask(task_id=c, pod_name=pods.get(c)) for c in s.children] or None,
            )
        )
    return details


def v1_run(row: asyncpg.Record, *, metrics: list[ApiRunMetric]) -> ApiRun:
    run = run_repo.run_from_row(row)
    created = _created(row, run)
    parameters = [ApiParameter(name=k, value=v) for k, v in run.parameters.items()]
    kfp = run.kfp
    pipeline_id, pipeline_name = (kfp and kfp.pipeline_id), run.pipeline_name or (kfp and kfp.pipeline_name)
    spec = ApiPipelineSpec(pipeline_id=pipeline_id, pipeline_name=pipeline_name, parameters=parameters or None)
    references = [ApiResourceReference(key=ApiResourceKey(type="NAMESPACE", id=run.namespace), relationship="OWNER")]
    if kfp and kfp.experiment_id:
        references.append(ApiResourceReference(key=ApiResourceKey(type="EXPERIMENT", id=kfp.experiment_id),
                                               name=kfp.experiment_name, relationship="OWNER"))  # fmt: skip
    return ApiRun(
        id=kfp_id(run),
        name=(kfp and kfp.display_name) or run.name,
        storage_state="STORAGESTATE_ARCHIVED" if kfp and kfp.storage_state == "ARCHIVED" else "STORAGESTATE_AVAILABLE",
        pipeline_spec=spec if (pipeline_id or pipeline_name or parameters) else None,
        resource_references=references,
        created_at=created,
        scheduled_at=scheduled_at(run, created),
        finished_at=run.finished_at,
        status=v1_status(run.phase, shutdown=run.shutdown),
        metrics=metrics or None,
    )


def v1_metrics(metrics: list[MetricOut]) -> list[ApiRunMetric]:
    return [ApiRunMetric(name=m.name, node_id=m.step_id, number_value=m.value, format=m.format) for m in metrics]


def workflow_manifest(row: asyncpg.Record, steps: list[StepOut]) -> dict[str, Any]:
    """A minimal Argo Workflow rebuilt from what runledger stores, for v1's pipeline_runtime.

    It holds what KFP's UI and SDK read from a run's graph: metadata (name, namespace, uid, labels,
    creation time), the run's arguments and shutdown, and status (phase, message, times, and every node
    with its type, phase, template, boundary, children, times, message, host, and input/output parameters
    and artifacts with their S3 locations). Left out because runledger does not record them: the spec's
    templates, annotations, pod specs, resource durations, progress, outbound nodes and non-S3
    artifact locations; values longer than the ingest cap are truncated; an offloaded run has no nodes.
    """
    run = run_repo.run_from_row(row)
    metadata: dict[str, Any] = {"name": run.name, "namespace": run.namespace, "labels": run.labels,
                                "creationTimestamp": _argo_time(_created(row, run))}  # fmt: skip
    if run.uid:
        metadata["uid"] = run.uid
    status: dict[str, Any] = {"phase": run.phase} if run.phase else {}
    times = {"startedAt": _argo_time(run.started_at), "finishedAt": _argo_time(run.finished_at)}
    status.update(_drop_none({"message": run.message or None, **times}))
    if steps:
        status["nodes"] = {s.id: _node(s) for s in steps}
    arguments = [_drop_none({"name": k, "value": v}) for k, v in run.parameters.items()]
    spec: dict[str, Any] = {"arguments": {"parameters": arguments}} if arguments else {}
    if run.shutdown:
        spec["shutdown"] = run.shutdown
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


def _node(s: StepOut) -> dict[str, Any]:
    node = {
        "id": s.id, "name": s.name, "displayName": s.display_name or s.name.rpartition(".")[2], "type": s.type or None,
        "phase": s.phase or None, "templateName": s.template, "boundaryID": s.boundary_id,
        "children": s.children or None, "startedAt": _argo_time(s.started_at), "finishedAt": _argo_time(s.finished_at),
        "message": s.message, "hostNodeName": s.host_node,
    }  # fmt: skip
    inputs = _io(s.inputs)
    outputs = _io(s.outputs)
    if s.exit_code is not None:
        outputs["exitCode"] = str(s.exit_code)
    node["inputs"] = inputs or None
    node["outputs"] = outputs or None
    return _drop_none(node)


def _io(io: StepIO) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if io.parameters:
        out["parameters"] = [_drop_none({"name": p.name, "value": p.value}) for p in io.parameters]
    if io.artifacts:
        artifacts = []
        for a in io.artifacts:
            artifact: dict[str, Any] = {"name": a.name, "path": a.path, "optional": a.optional or None}
            if a.storage == "s3":
                location = {"bucket": a.s3_bucket, "key": a.s3_key, "endpoint": a.s3_endpoint, "region": a.s3_region}
                artifact["s3"] = _drop_none(location)
            if a.archive:
                artifact["archive"] = {a.archive: {}}
            artifacts.append(_drop_none(artifact))
        out["artifacts"] = artifacts
    return out


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _argo_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
