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
  controller picks them up), Running -> RUNNING, Succeeded -> SUCCEEDED, Failed/Error -> FAILED, except
  a run stopped or terminated through ``spec.shutdown`` (message "Stopped with strategy 'Stop'|'Terminate'")
  -> CANCELED. Anything else -> RUNTIME_STATE_UNSPECIFIED. v1 ``status`` is the Argo phase itself
  (Pending when still empty), as KFP 1.x served it. CANCELING and PAUSED are never reported: runledger
  does not record ``spec.shutdown`` or suspension.
- **storage_state** is always AVAILABLE. Archiving is a KFP database flag runledger cannot see, and a
  workflow deleted from the cluster is not archived: KFP's persistence agent itself deletes every
  workflow a day after it finishes (``ttlSecondsAfterWorkflowFinish``), while the run stays available.
- **display_name** is the workflow's name (KFP's run display name lives in an annotation runledger
  does not record); ``scheduled_at`` is a recurring run's scheduled time (label
  ``scheduledworkflows.kubeflow.org/workflowEpoch``), else its creation time.
- Not recorded, so never reported, and refused as filters: experiment, pipeline and pipeline version
  ids, recurring run id, description, service account, pipeline spec.

Lists are keyset-paged like runledger's own (a deep page costs what the first does). KFP's page token
carries the query it was issued for, and KFP clients often send only the token for later pages; so does
ours, and a token sent with a sort or filter other than its own is refused (400), never misapplied.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import unquote

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from runledger.metadata import runs as run_repo
from runledger.metadata.errors import BadRequest
from runledger.metadata.queries import q
from runledger.metadata.schemas import MetricOut, RunOut, StepIO, StepOut, Timestamp, TransitionOut

DEFAULT_PAGE_SIZE = 20  # KFP's list defaults (backend/src/apiserver/list/list.go)
MAX_PAGE_SIZE = 200
MAX_PREDICATES = 32
MAX_IN_VALUES = 200
GRPC_UNKNOWN = 2  # google.rpc.Code of a failed run or task's error

Api = Literal["v1", "v2"]
Op = Literal["EQUALS", "NOT_EQUALS", "GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN", "LESS_THAN_EQUALS", "IN", "IS_SUBSTRING"]
_OP_NUMBERS: dict[int, Op] = {
    1: "EQUALS", 2: "NOT_EQUALS", 3: "GREATER_THAN", 5: "GREATER_THAN_EQUALS", 6: "LESS_THAN",
    7: "LESS_THAN_EQUALS", 8: "IN", 9: "IS_SUBSTRING",
}  # fmt: skip
_SQL_OPS = {
    "EQUALS": "=", "NOT_EQUALS": "IS DISTINCT FROM", "GREATER_THAN": ">", "GREATER_THAN_EQUALS": ">=",
    "LESS_THAN": "<", "LESS_THAN_EQUALS": "<=",
}  # fmt: skip
_STOPPED = re.compile(r"^(Stopped with strategy '(Stop|Terminate)'|workflow shutdown with strategy: +(Stop|Terminate))")
_PHASE_STATES = {"": "PENDING", "Pending": "PENDING", "Running": "RUNNING", "Succeeded": "SUCCEEDED",
                 "Skipped": "SKIPPED", "Omitted": "SKIPPED", "Failed": "FAILED", "Error": "FAILED"}  # fmt: skip
_METRIC_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,253}")
LABEL_SCHEDULED_EPOCH = "scheduledworkflows.kubeflow.org/workflowEpoch"


def runtime_state(phase: str, message: str | None) -> str:
    """The v2beta1 RuntimeState of an Argo phase (of a run or a node); agrees with SQL kfp_run_state."""
    state = _PHASE_STATES.get(phase, "RUNTIME_STATE_UNSPECIFIED")
    if state == "FAILED" and message and _STOPPED.match(message):
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
    storage_state: Literal["AVAILABLE"] = "AVAILABLE"
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
    pipeline_name: str | None = None
    parameters: list[ApiParameter] | None = None


class ApiResourceKey(_Proto):
    type: str
    id: str


class ApiResourceReference(_Proto):
    key: ApiResourceKey
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
    storage_state: Literal["STORAGESTATE_AVAILABLE"] = "STORAGESTATE_AVAILABLE"
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


# --- filters ---------------------------------------------------------------------------------------


def _expression(name: str) -> str:
    """A named SQL expression from kfp.sql, parenthesised and without its comment lines."""
    lines = [line for line in q(name).splitlines() if not line.lstrip().startswith("--")]
    return "(" + "\n".join(lines) + ")"


# Filterable keys (KFP's runAPIToModelFieldMap names) -> (SQL expression over runs r, kind of value).
_FIELDS: dict[str, tuple[str, str]] = {
    "run_id": ("coalesce(r.kfp_run_id, r.id)", "text"),
    "id": ("coalesce(r.kfp_run_id, r.id)", "text"),
    "display_name": ("r.name", "text"),
    "name": ("r.name", "text"),
    "namespace": ("r.namespace", "text"),
    "status": ("coalesce(nullif(r.phase, ''), 'Pending')", "text"),
    "state": (_expression("kfp_run_state"), "text"),
    "storage_state": ("'AVAILABLE'::text", "text"),
    "created_at": ("r.sort_at", "time"),
    "finished_at": ("r.finished_sort", "time"),  # unfinished runs hold -infinity, as KFP's 0
    "scheduled_at": (_expression("kfp_scheduled_at"), "time"),
    "pipeline_name": ("r.pipeline_name", "text"),  # a runledger extension: KFP has no such key
}
_UNSUPPORTED = {
    "experiment_id": "runledger does not know KFP experiments",
    "pipeline_id": "runledger does not know KFP pipeline ids (filter by pipeline_name)",
    "pipeline_version_id": "runledger does not know KFP pipeline version ids (filter by pipeline_name)",
    "recurring_run_id": "runledger does not know KFP recurring run ids",
    "description": "runledger does not record run descriptions",
    "state_history": "state_history cannot be filtered",
    "runtime_details": "runtime_details cannot be filtered",
}
_VALUE_FIELDS = ("int_value", "long_value", "string_value", "timestamp_value", "int_values", "long_values", "string_values")
# protojson accepts a field's JSON (lowerCamel) name as well as its proto name.
_JSON_NAMES = {"intValue": "int_value", "longValue": "long_value", "stringValue": "string_value",
               "timestampValue": "timestamp_value", "intValues": "int_values", "longValues": "long_values",
               "stringValues": "string_values"}  # fmt: skip
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


class Predicate(_Proto):
    key: str
    op: Op
    texts: tuple[str, ...] = ()
    times: tuple[datetime, ...] = ()


def parse_filter(text: str, *, api: Api) -> tuple[Predicate, ...]:
    """A Filter message as JSON (or URL-encoded JSON, as the KFP UI double-encodes it) -> predicates."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            document = orjson.loads(unquote(text))
        except orjson.JSONDecodeError:
            raise BadRequest("filter is not a JSON-serialized Filter") from None
    if not isinstance(document, dict):
        raise BadRequest("filter must be a JSON object with a 'predicates' list")
    unknown = set(document) - {"predicates"}
    if unknown:
        raise BadRequest(f"unknown field {sorted(unknown)[0]!r} in filter")
    raw = document.get("predicates") or []
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        raise BadRequest("filter.predicates must be a list of objects")
    if len(raw) > MAX_PREDICATES:
        raise BadRequest(f"at most {MAX_PREDICATES} filter predicates")
    return tuple(_predicate(p, api=api) for p in raw)


def _predicate(raw: dict[str, Any], *, api: Api) -> Predicate:
    op_field = "op" if api == "v1" else "operation"
    fields: dict[str, Any] = {}
    for name, value in raw.items():
        canonical = _JSON_NAMES.get(name, name)
        if canonical not in (op_field, "key", *_VALUE_FIELDS):
            raise BadRequest(
                f"unknown field {name!r} in a filter predicate (the {api}beta1 filter names the operation {op_field!r})"
            )
        if canonical in fields:
            raise BadRequest(f"filter predicate sets {canonical!r} twice")
        fields[canonical] = value
    key = fields.get("key")
    if not isinstance(key, str) or not key:
        raise BadRequest("a filter predicate needs a 'key'")
    if key in _UNSUPPORTED:
        raise BadRequest(f"unsupported filter key {key!r}: {_UNSUPPORTED[key]}")
    if key not in _FIELDS:
        raise BadRequest(f"unknown filter key {key!r}: one of {', '.join(_FIELDS)}")
    op = _operation(fields.get(op_field))
    given = [f for f in _VALUE_FIELDS if f in fields]
    if len(given) != 1:
        raise BadRequest(f"filter predicate on {key!r} needs exactly one value field, got {len(given)}")
    (value_field,) = given
    values = _values(value_field, fields[value_field], key=key)
    listed = value_field.endswith("_values")
    if op == "IN" and not listed:
        raise BadRequest(f"filter predicate on {key!r}: IN takes int_values, long_values or string_values")
    if listed and op != "IN":
        raise BadRequest(f"filter predicate on {key!r}: {value_field} is only for IN, not {op}")
    kind = _FIELDS[key][1]
    if kind == "text":
        if value_field not in ("string_value", "string_values"):
            raise BadRequest(f"filter key {key!r} takes string_value or string_values, not {value_field}")
        if key == "storage_state":
            values = [v.removeprefix("STORAGESTATE_") for v in values]  # v1 spells the enum with a prefix
        return Predicate(key=key, op=op, texts=tuple(values))
    if op == "IS_SUBSTRING":
        raise BadRequest(f"IS_SUBSTRING applies to text keys, not {key!r}")
    if value_field in ("string_value", "string_values"):
        raise BadRequest(f"filter key {key!r} is a time: use timestamp_value, or int_value/long_value in Unix seconds")
    times = [v if isinstance(v, datetime) else _from_unix(v, key=key) for v in values]
    return Predicate(key=key, op=op, times=tuple(times))


def _operation(raw: Any) -> Op:
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int) and raw in _OP_NUMBERS:
        return _OP_NUMBERS[raw]
    if isinstance(raw, str) and raw in _OP_NUMBERS.values():
        return raw  # type: ignore[return-value]
    raise BadRequest(f"bad filter operation {raw!r}: one of {', '.join(_OP_NUMBERS.values())}")


def _values(field: str, raw: Any, *, key: str) -> list[Any]:
    if field.endswith("_values"):
        if not isinstance(raw, dict) or set(raw) - {"values"}:
            raise BadRequest(f"filter predicate on {key!r}: {field} must be {{\"values\": [...]}}")
        items = raw.get("values") or []
        if not isinstance(items, list):
            raise BadRequest(f"filter predicate on {key!r}: {field}.values must be a list")
        if len(items) > MAX_IN_VALUES:
            raise BadRequest(f"filter predicate on {key!r}: at most {MAX_IN_VALUES} values")
        scalar = field[: -len("s")]
        return [_scalar(scalar, item, key=key) for item in items]
    return [_scalar(field, raw, key=key)]


def _scalar(field: str, raw: Any, *, key: str) -> Any:
    if field == "string_value":
        if not isinstance(raw, str):
            raise BadRequest(f"filter predicate on {key!r}: string_value must be a string")
        return raw
    if field == "timestamp_value":
        try:
            value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            raise BadRequest(f"filter predicate on {key!r}: timestamp_value must be an RFC 3339 time with a zone")
        return value
    bounds = _INT32 if field == "int_value" else _INT64
    # protojson writes 64-bit integers as strings and reads both forms.
    if isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,20}", raw):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not bounds[0] <= raw <= bounds[1]:
        raise BadRequest(f"filter predicate on {key!r}: {field} must be an integer in range")
    return raw


def _from_unix(seconds: int, *, key: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise BadRequest(f"filter predicate on {key!r}: {seconds} is not a time in Unix seconds") from None


# --- sorting, queries and page tokens --------------------------------------------------------------

# Sortable keys -> (SQL expression over runs r, kind); aliases share a canonical name.
_SORTS: dict[str, tuple[str, str]] = {
    "created_at": ("r.sort_at", "time"),
    "finished_at": ("r.finished_sort", "time"),
    "scheduled_at": (_expression("kfp_scheduled_at"), "time"),
    "name": ("r.name", "text"),
    "run_id": ("coalesce(r.kfp_run_id, r.id)", "text"),
}
_SORT_ALIASES = {"display_name": "name", "id": "run_id"}


def parse_sort(text: str) -> tuple[str, bool]:
    """KFP's sort_by ("field", "field asc", "field desc"; any case) -> (canonical field, descending)."""
    words = text.lower().split()
    if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
        raise BadRequest(f"bad sort_by {text!r}: use \"field\", \"field asc\" or \"field desc\"")
    if not words:
        return "created_at", False  # KFP's default: oldest first
    field = _SORT_ALIASES.get(words[0], words[0])
    if field.startswith("metric:"):
        if not _METRIC_NAME.fullmatch(field[len("metric:"):]):
            raise BadRequest(f"bad sort_by {text!r}: the metric name is empty or malformed")
    elif field not in _SORTS:
        allowed = ", ".join([*_SORTS, *_SORT_ALIASES, "metric:NAME"])
        raise BadRequest(f"unsupported sort_by field {words[0]!r}: one of {allowed}")
    return field, len(words) == 2 and words[1] == "desc"


class ListQuery(_Proto):
    """One KFP run listing, whatever page of it is asked for."""

    api: Api
    namespace: str | None = None
    sort: str = "created_at"
    descending: bool = False
    predicates: tuple[Predicate, ...] = ()

    def sort_sql(self) -> tuple[str, str]:
        if self.sort.startswith("metric:"):
            return "coalesce(sm.value, '-Infinity'::double precision)", "number"
        return _SORTS[self.sort]


Cursor = tuple[Any, str]  # (sort key of the last row, its runs.id)


def resolve_query(
    *, api: Api, namespace: str | None, sort_by: str | None, filter_text: str | None, page_token: str | None
) -> tuple[ListQuery, Cursor | None]:
    """The listing a request asks for, and where its page starts.

    With a page token the token's own query applies (KFP's behaviour); a sort, filter or namespace
    sent alongside it must be the token's, else the request is refused.
    """
    if not page_token:
        sort, descending = parse_sort(sort_by or "")
        predicates = parse_filter(filter_text, api=api) if filter_text else ()
        return ListQuery(api=api, namespace=namespace, sort=sort, descending=descending, predicates=predicates), None
    issued, cursor = decode_token(page_token)
    asked = issued
    if sort_by:
        sort, descending = parse_sort(sort_by)
        asked = asked.model_copy(update={"sort": sort, "descending": descending})
    if filter_text:
        asked = asked.model_copy(update={"predicates": parse_filter(filter_text, api=api)})
    if namespace is not None:
        asked = asked.model_copy(update={"namespace": namespace})
    if issued.api != api or asked != issued:
        raise BadRequest("page_token was issued for a different query")
    return issued, cursor


def encode_token(query: ListQuery, key: Any, run_id: str) -> str:
    if isinstance(key, datetime):
        key = key.isoformat()
    elif isinstance(key, float) and not math.isfinite(key):
        key = str(key)  # '-inf': JSON has no infinities
    payload = {"q": query.model_dump(mode="json"), "k": key, "i": run_id}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(token: str) -> tuple[ListQuery, Cursor]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        query = ListQuery.model_validate(payload["q"])
        key, run_id = payload["k"], payload["i"]
        kind = _kind_of_sort(query)
        if not isinstance(run_id, str):
            raise TypeError
        if kind == "time":
            # asyncpg reads -infinity (an unfinished run's finish) as a naive datetime.min and writes it back.
            key = datetime.fromisoformat(key)
            if key.tzinfo is None and key != datetime.min:
                raise TypeError
        elif kind == "number":
            if isinstance(key, bool) or not isinstance(key, (int, float, str)):
                raise TypeError
            key = float(key)
        elif not isinstance(key, str):
            raise TypeError
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError, ValidationError, BadRequest):
        raise BadRequest("page_token is malformed") from None
    return query, (key, run_id)


def _kind_of_sort(query: ListQuery) -> str:
    if not query.sort.startswith("metric:") and query.sort not in _SORTS:
        raise BadRequest("page_token is malformed")
    return query.sort_sql()[1]


# --- SQL ------------------------------------------------------------------------------------------


class _Sql:
    def __init__(self) -> None:
        self.args: list[Any] = []
        self.where: list[str] = []

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def where_clause(self) -> str:
        return f" WHERE {' AND '.join(self.where)}" if self.where else ""


def _filters(query: ListQuery, sql: _Sql, namespaces: frozenset[str] | None) -> None:
    if query.namespace is not None:
        sql.where.append(f"r.namespace = {sql.bind(query.namespace)}")
    if namespaces is not None:
        sql.where.append(f"r.namespace = ANY({sql.bind(sorted(namespaces))}::text[])")
    for p in query.predicates:
        if p.key not in _FIELDS:  # a forged token; parse_filter never lets one through
            raise BadRequest("page_token is malformed")
        expression, kind = _FIELDS[p.key]
        values = list(p.texts if kind == "text" else p.times)
        if p.op == "IN":
            cast = "text[]" if kind == "text" else "timestamptz[]"
            sql.where.append(f"{expression} = ANY({sql.bind(values)}::{cast})")
        elif not values:
            raise BadRequest("page_token is malformed")
        elif p.op == "IS_SUBSTRING":
            sql.where.append(f"strpos({expression}, {sql.bind(values[0])}) > 0")
        else:
            sql.where.append(f"{expression} {_SQL_OPS[p.op]} {sql.bind(values[0])}")


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
    sql = _Sql()
    _filters(query, sql, namespaces)
    total = await conn.fetchval(f"SELECT count(*) FROM runs r{sql.where_clause()}", *sql.args)
    expression, _ = query.sort_sql()
    joins = ""
    if query.sort.startswith("metric:"):
        # Every run is listed; those that never reported the metric sort as -infinity (first ascending).
        joins = f" LEFT JOIN run_metrics sm ON sm.run_id = r.id AND sm.name = {sql.bind(query.sort[len('metric:'):])}"
    direction, compare = ("DESC", "<") if query.descending else ("ASC", ">")
    if after is not None:
        sql.where.append(f"({expression}, r.id) {compare} ({sql.bind(after[0])}, {sql.bind(after[1])})")
    limit = sql.bind(page_size + 1)
    rows = await conn.fetch(
        f"SELECT {q('run_columns_r')}, {expression} AS sort_key FROM runs r{joins}{sql.where_clause()}"
        f" ORDER BY {expression} {direction}, r.id {direction} LIMIT {limit}",
        *sql.args,
    )
    token = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        token = encode_token(query, rows[-1]["sort_key"], rows[-1]["id"])
    return RunPage(rows=rows, next_page_token=token, total_size=total)


async def find_run(conn: asyncpg.Connection, run_id: str) -> asyncpg.Record | None:
    """The run a KFP client means by `run_id`: KFP's run id first, else runledger's id."""
    return await conn.fetchrow(q("kfp_get_run").format(run_columns_r=q("run_columns_r")), run_id)


async def run_histories(conn: asyncpg.Connection, run_ids: list[str]) -> dict[str, list[tuple[str, datetime]]]:
    """(phase entered, when) per run, oldest first."""
    histories: dict[str, list[tuple[str, datetime]]] = {}
    for t in await conn.fetch(q("kfp_run_transitions"), run_ids):
        histories.setdefault(t["run_id"], []).append((t["to_phase"], t["at"]))
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
    return run.created_at or row["sort_at"]


def scheduled_at(run: RunOut, created: datetime) -> datetime:
    epoch = run.labels.get(LABEL_SCHEDULED_EPOCH, "")
    if re.fullmatch(r"[0-9]{1,11}", epoch):
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    return created


def v1_status(phase: str) -> str:
    return phase or "Pending"


def _history(entries: list[tuple[str, datetime]], *, message: str | None) -> list[RuntimeStatus] | None:
    """Phase transitions as KFP state history: one entry per change of state (Failed then Error is one)."""
    out: list[RuntimeStatus] = []
    for i, (phase, at) in enumerate(entries):
        # Only the last entry is the current phase, the one the current message belongs to.
        last = i == len(entries) - 1
        state = runtime_state(phase, message if last else None)
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
    return V2Run(
        run_id=kfp_id(run),
        display_name=run.name,
        runtime_config=RuntimeConfig(parameters={k: v for k, v in run.parameters.items() if v is not None} or None),
        created_at=created,
        scheduled_at=scheduled_at(run, created),
        finished_at=run.finished_at,
        state=runtime_state(run.phase, run.message),
        run_details=details,
        state_history=_history(history, message=run.message),
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
    spec = ApiPipelineSpec(pipeline_name=run.pipeline_name, parameters=parameters or None)
    return ApiRun(
        id=kfp_id(run),
        name=run.name,
        pipeline_spec=spec if (run.pipeline_name or parameters) else None,
        resource_references=[
            ApiResourceReference(key=ApiResourceKey(type="NAMESPACE", id=run.namespace), relationship="OWNER")
        ],
        created_at=created,
        scheduled_at=scheduled_at(run, created),
        finished_at=run.finished_at,
        status=v1_status(run.phase),
        metrics=metrics or None,
    )


def v1_metrics(metrics: list[MetricOut]) -> list[ApiRunMetric]:
    return [ApiRunMetric(name=m.name, node_id=m.step_id, number_value=m.value, format=m.format) for m in metrics]


def workflow_manifest(row: asyncpg.Record, steps: list[StepOut]) -> dict[str, Any]:
    """A minimal Argo Workflow rebuilt from what runledger stores, for v1's pipeline_runtime.

    It holds what KFP's UI and SDK read from a run's graph: metadata (name, namespace, uid, labels,
    creation time), the run's arguments, and status (phase, message, times, and every node with its
    type, phase, template, boundary, children, times, message, host, and input/output parameters and
    artifacts with their S3 locations). Left out because runledger does not record them: the spec's
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
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": metadata,
        "spec": {"arguments": {"parameters": arguments}} if arguments else {},
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
