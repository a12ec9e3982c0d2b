"""Run listings: the filters and sorts of GET /api/v1/runs, compiled into one parameterized query.

Every listing is paged by keyset on (sort value, id), whatever the sort: a page deep in the history
costs what the first one does, and runs arriving meanwhile never shift or repeat rows of later
pages. The page token carries the last row's key and a hash of the query it was issued for, so a
token replayed against another query (other filters, another sort) is refused, never misapplied.

Filters come from the query string; the repeatable ones are written as
``label=team=nlp`` / ``label=team`` / ``label=!team``, ``param.lr=0.1`` and ``metric.accuracy>=0.9``
(operators ``= != < <= > >=``). Names and values are always bound as parameters, never spliced
into SQL; only fixed fragments from this module are.

Sorting by a metric lists the runs that report it (a run's value of a metric is the one the step
that finished last reported). Sorting by finish time or duration puts runs without one (still
running) last in descending order and first in ascending order.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Literal

import asyncpg
from multidict import MultiDictProxy
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runledger.store import page_tokens
from runledger.store.errors import BadRequest
from runledger.store.sql_blocks import q

NAME = r"[A-Za-z0-9_.\-/]{1,253}"
_COMPARISON = re.compile(rf"^(metric)\.({NAME}?)(>=|<=|!=|=|>|<)(.*)$", re.S)
_PARAM = re.compile(rf"^param\.({NAME})=(.*)$", re.S)
_LABEL = re.compile(r"^(!)?([A-Za-z0-9_.\-/]{1,317})(?:=(.*))?$", re.S)
_OPERATORS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

SortField = Literal["created_at", "finished_at", "duration", "name"]
_SORT_SQL = {
    # field -> (SQL expression over runs r, kind of its values in page tokens)
    "created_at": ("r.sort_at", "time"),
    "finished_at": ("r.finished_sort", "time"),
    "duration": ("r.duration_sort", "number"),
    "name": ("r.name", "text"),
}
MAX_REPEATED = 20


class LabelFilter(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    value: str | None = None  # None: the label is present (or absent, when negated)
    negated: bool = False


class ParamFilter(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    value: str


class MetricFilter(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: float


class RunListQuery(BaseModel):
    """A validated run listing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str | None = Field(default=None, max_length=253)
    namespaces: tuple[str, ...] | None = Field(default=None, description="Set by tenancy: the readable namespaces.")
    phase: str | None = Field(default=None, max_length=64)
    pipeline: str | None = Field(default=None, max_length=512)
    kfp_run_id: str | None = Field(default=None, max_length=128)
    scheduled_workflow: str | None = Field(default=None, max_length=253)
    created_after: datetime | None = None
    created_before: datetime | None = None
    finished_after: datetime | None = None
    finished_before: datetime | None = None
    min_duration: float | None = Field(default=None, ge=0, description="Seconds.")
    max_duration: float | None = Field(default=None, ge=0, description="Seconds.")
    deleted: bool | None = None
    labels: tuple[LabelFilter, ...] = ()
    params: tuple[ParamFilter, ...] = ()
    metrics: tuple[MetricFilter, ...] = ()
    sort: str = "-created_at"
    count: bool = False
    limit: int = Field(default=50, ge=1, le=500)
    page_token: str | None = Field(default=None, max_length=2048)

    @property
    def sort_metric(self) -> str | None:
        field = self.sort.lstrip("-")
        return field[len("metric."):] if field.startswith("metric.") else None

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def parse_run_query(params: MultiDictProxy[str], *, max_limit: int = 500) -> RunListQuery:
    """Query-string parameters -> RunListQuery; anything malformed is a BadRequest saying what."""
    plain: dict[str, str] = {}
    labels: list[LabelFilter] = []
    param_filters: list[ParamFilter] = []
    metric_filters: list[MetricFilter] = []
    for key, value in params.items():
        if key == "label":
            labels.append(_label(value))
        elif key.startswith("param."):
            match = _PARAM.match(f"{key}={value}")
            if not match:
                raise BadRequest(f"bad parameter filter {key!r}: use param.NAME=VALUE")
            param_filters.append(ParamFilter(name=match[1], value=match[2]))
        elif key.startswith("metric."):
            metric_filters.append(_metric(key, value))
        elif key in plain:
            raise BadRequest(f"parameter {key!r} given more than once")
        else:
            plain[key] = value
    for what, found in (("label", labels), ("param.", param_filters), ("metric.", metric_filters)):
        if len(found) > MAX_REPEATED:
            raise BadRequest(f"at most {MAX_REPEATED} {what} filters")
    try:
        query = RunListQuery.model_validate(
            {**plain, "labels": labels, "params": param_filters, "metrics": metric_filters}
        )
    except ValidationError as exc:
        raise BadRequest(_first_error(exc)) from None
    _check_sort(query.sort)
    if query.limit > max_limit:
        raise BadRequest(f"limit must be at most {max_limit}")
    if query.page_token:
        decode_token(query, query.page_token)  # a bad token is a 400 before any query runs
    return query


def _label(value: str) -> LabelFilter:
    match = _LABEL.match(value)
    if not match or (match[1] and match[3] is not None):
        raise BadRequest(f"bad label selector {value!r}: use label=KEY=VALUE, label=KEY or label=!KEY")
    return LabelFilter(key=match[2], value=match[3], negated=bool(match[1]))


def _metric(key: str, value: str) -> MetricFilter:
    # `metric.acc>=0.9` reaches us as key "metric.acc>" and value "0.9"; `metric.acc<0.9` as a bare
    # key. Rejoining them gives back what the client wrote.
    text = key if (value == "" and any(c in key for c in "<>")) else f"{key}={value}"
    match = _COMPARISON.match(text)
    if not match or not match[2]:
        raise BadRequest(f"bad metric filter {text!r}: use metric.NAME OP NUMBER with OP one of = != < <= > >=")
    try:
        number = float(match[4])
    except ValueError:
        raise BadRequest(f"bad metric filter {text!r}: {match[4]!r} is not a number") from None
    if not math.isfinite(number):
        raise BadRequest(f"bad metric filter {text!r}: the number must be finite")
    return MetricFilter(name=match[2], op=match[3], value=number)  # type: ignore[arg-type]


def _check_sort(sort: str) -> None:
    field = sort.lstrip("-")
    if sort.count("-") > 1 or not sort:
        raise BadRequest(f"bad sort {sort!r}")
    if field.startswith("metric."):
        if not re.fullmatch(NAME, field[len("metric."):]):
            raise BadRequest(f"bad sort {sort!r}: metric name is empty or malformed")
        return
    if field not in _SORT_SQL:
        allowed = ", ".join([*_SORT_SQL, "metric.NAME"])
        raise BadRequest(f"unknown sort key {field!r}: one of {allowed}, with '-' for descending")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "query"
    if error["type"] == "extra_forbidden":
        return f"unknown parameter {where!r}"
    return f"{where}: {error['msg']}"


# --- page tokens ----------------------------------------------------------------------------------


def _fingerprint(query: RunListQuery) -> str:
    return page_tokens.query_hash(query, exclude={"limit", "page_token", "count", "namespaces"})


def _sort_kind(query: RunListQuery) -> str:
    return "number" if query.sort_metric is not None else _SORT_SQL[query.sort.lstrip("-")][1]


# asyncpg reads Postgres' ±infinity timestamps (the sort key of unfinished runs) as these naive
# datetimes, and writes them back as ±infinity.
_INFINITE_TIMES = {"-infinity": datetime.min, "infinity": datetime.max}


def encode_token(query: RunListQuery, key: Any, run_id: str) -> str:
    if isinstance(key, datetime):
        key = next((text for text, t in _INFINITE_TIMES.items() if key == t), None) or key.isoformat()
    elif isinstance(key, float) and math.isinf(key):
        key = "infinity" if key > 0 else "-infinity"  # JSON has no infinities
    return page_tokens.encode(_fingerprint(query), key, run_id)


def decode_token(query: RunListQuery, token: str) -> tuple[Any, str]:
    key, run_id = page_tokens.decode(token, _fingerprint(query))
    kind = _sort_kind(query)
    try:
        if not isinstance(run_id, str):
            raise TypeError
        if kind == "time" and key in _INFINITE_TIMES:
            key = _INFINITE_TIMES[key]
        elif kind == "time":
            key = datetime.fromisoformat(key)
            if key.tzinfo is None:
                raise TypeError
        elif kind == "number" and key in ("infinity", "-infinity"):
            key = float(key)
        elif kind == "number":
            if isinstance(key, bool) or not isinstance(key, (int, float)):
                raise TypeError
            key = float(key)
        elif not isinstance(key, str):
            raise TypeError
    except (TypeError, ValueError):
        raise BadRequest("page_token is malformed") from None
    return key, run_id


# --- SQL ------------------------------------------------------------------------------------------

_SIMPLE = {
    "namespace": "r.namespace = {}",
    "phase": "r.phase = {}",
    "pipeline": "r.pipeline_name = {}",
    "kfp_run_id": "r.kfp_run_id = {}",
    "scheduled_workflow": "r.scheduled_workflow = {}",
    "created_after": "r.created_at >= {}",
    "created_before": "r.created_at < {}",
    "finished_after": "r.finished_at >= {}",
    "finished_before": "r.finished_at < {}",
    "min_duration": "r.duration_seconds >= {}",
    "max_duration": "r.duration_seconds <= {}",
}


class _Sql:
    def __init__(self) -> None:
        self.args: list[Any] = []
        self.where: list[str] = []
        self.joins: list[str] = []
        # The (sort key, id) columns the page is ordered and keyed by, when not the runs table's own.
        self.listing_key: tuple[str, str] | None = None

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def _filters(query: RunListQuery, sql: _Sql) -> None:
    for field, fragment in _SIMPLE.items():
        value = getattr(query, field)
        if value is not None:
            sql.where.append(fragment.format(sql.bind(value)))
    if query.namespaces is not None:
        sql.where.append(f"r.namespace = ANY({sql.bind(list(query.namespaces))}::text[])")
    if query.deleted is not None:
        sql.where.append("r.deleted_at IS NOT NULL" if query.deleted else "r.deleted_at IS NULL")
    for label in query.labels:
        if label.value is not None:
            sql.where.append(f"r.labels @> {sql.bind({label.key: label.value})}::jsonb")
        else:
            sql.where.append(f"{'NOT ' if label.negated else ''}r.labels ? {sql.bind(label.key)}")
    for i, param in enumerate(query.params):
        name, value = sql.bind(param.name), sql.bind(param.value)
        # md5(value) matches the expression index parameters_by_value; the value check makes it exact.
        match = f"{{p}}.name = {name} AND md5({{p}}.value) = md5({value}) AND {{p}}.value = {value}"
        if i == 0 and query.sort.lstrip("-") == "created_at":
            # Ordered by the argument's copy of the listing key, so the page walks the argument's
            # index (parameters_by_value) newest first and stops when full: only the runs that hold
            # it are visited (see migration 0010). Step '' holds one row per argument name (a
            # constraint), so the join repeats no run.
            sql.joins.append(f"JOIN parameters arg ON arg.run_id = r.id AND arg.step_id = '' AND {match.format(p='arg')}")
            sql.listing_key = ("arg.run_sort_at", "arg.run_id")
        else:
            sql.where.append(
                f"EXISTS (SELECT 1 FROM parameters p WHERE p.run_id = r.id AND p.step_id = '' AND {match.format(p='p')})"
            )
    for metric in query.metrics:
        name, value = sql.bind(metric.name), sql.bind(metric.value)
        sql.where.append(
            f"EXISTS (SELECT 1 FROM run_metrics m WHERE m.run_id = r.id AND m.name = {name}"
            f" AND m.value {_OPERATORS[metric.op]} {value})"
        )


async def list_runs(conn: asyncpg.Connection, query: RunListQuery) -> tuple[list[asyncpg.Record], str | None, int | None]:
    """One page of runs: (rows, next page token, total when asked for)."""
    sql = _Sql()
    _filters(query, sql)
    total = None
    if query.count:
        where = f" WHERE {' AND '.join(sql.where)}" if sql.where else ""
        total = await conn.fetchval(f"SELECT count(*) FROM runs r {' '.join(sql.joins)}{where}", *sql.args)
    if query.sort_metric is not None:
        sql.joins.append(f"JOIN run_metrics sm ON sm.run_id = r.id AND sm.name = {sql.bind(query.sort_metric)}")
        expression, id_column = "sm.value", "r.id"
    else:
        expression, id_column = sql.listing_key or (_SORT_SQL[query.sort.lstrip("-")][0], "r.id")
    direction, compare = ("DESC", "<") if query.descending else ("ASC", ">")
    if query.page_token:
        key, run_id = decode_token(query, query.page_token)
        sql.where.append(f"({expression}, {id_column}) {compare} ({sql.bind(key)}, {sql.bind(run_id)})")
    limit = sql.bind(query.limit + 1)
    text = (
        f"SELECT {q('run_columns_r')}, {expression} AS sort_key FROM runs r {' '.join(sql.joins)}"
        + (f" WHERE {' AND '.join(sql.where)}" if sql.where else "")
        + f" ORDER BY {expression} {direction}, {id_column} {direction} LIMIT {limit}"
    )
    rows = await conn.fetch(text, *sql.args)
    token = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        token = encode_token(query, rows[-1]["sort_key"], rows[-1]["id"])
    return rows, token, total
