"""Run listings: the filters and sorts of GET /api/v1/runs, compiled into one parameterized query.

Every listing is paged by keyset on (sort value, id), whatever the sort: a page deep in the history
costs what the first one does, and runs arriving meanwhile never shift or repeat rows of later
pages. The page token carries the last row's key and a hash of the query it was issued for, so a
token replayed against another query (other filters, another sort) is refused, never misapplied.

The query arrives typed (RunListQuery; runledger/api/query_params.py parses the query string into
it). Names and values are always bound as parameters, never spliced into SQL; only fixed fragments
from this module are. Pages come from the one keyset pager (paging.py), tokens from its codec.

`namespace`, `phase` and `pipeline` hold one or more values, any of which matches. A parameter or
label value may be a prefix (``prefix=True``): it is matched with LIKE, the value's own ``%``,
``_`` and ``\\`` escaped, and a parameter prefix is also bounded as a range of the index
parameters_by_value (migrations 0015, 0025), which a generic plan can use as well as a custom one.

Filtering or sorting by a resource (``resources.cpu>=100``: the seconds of it the run used, Argo's
resourcesDuration) lists the runs that report it, as sorting by a metric does (a run's value of a
metric is the one the step that finished last reported). Sorting by finish time or duration puts
runs without one (still running) last in descending order and first in ascending order.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field

from runledger.core.run_state import PHASES
from runledger.store import page_tokens, paging
from runledger.store.page_tokens import Cursor
from runledger.store.read_models import RunOut
from runledger.store.sql_blocks import Statement, q, splice

NAME = r"[A-Za-z0-9_.\-/]{1,253}"  # of a metric or parameter
_OPERATORS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

SortField = Literal["created_at", "finished_at", "duration", "name"]
SORTS: dict[str, tuple[str, page_tokens.KeyKind]] = {
    # field -> (SQL expression over runs r, kind of its values in page tokens)
    "created_at": ("r.sort_at", "time"),
    "finished_at": ("r.finished_sort", "time"),
    "duration": ("r.duration_sort", "number"),
    "name": ("r.name", "text"),
}
MAX_REPEATED = 20
Phase = Literal[PHASES]  # type: ignore[valid-type]
# Only the first characters of an argument are indexed, for equality and prefix matches (0015, 0025).
INDEXED_PREFIX = 200


class LabelFilter(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    value: str | None = None  # None: the label is present (or absent, when negated)
    negated: bool = False
    prefix: bool = False  # the label's value starts with `value`


class ParamFilter(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    value: str
    prefix: bool = False  # the argument's value starts with `value`


class MetricFilter(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: float


class ResourceFilter(BaseModel):
    """Seconds of a resource the run used (its resourcesDuration), compared to a number."""

    model_config = ConfigDict(frozen=True)
    name: str
    op: Literal["=", "!=", "<", "<=", ">", ">="]
    value: float


class RunListQuery(BaseModel):
    """A validated run listing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: tuple[Annotated[str, Field(max_length=253)], ...] | None = Field(
        default=None, max_length=MAX_REPEATED,
        description="Runs of any of these namespaces: `namespace=a,b` or `namespace=a&namespace=b`.",
    )  # fmt: skip
    namespaces: tuple[str, ...] | None = Field(default=None, description="Set by tenancy: the readable namespaces.")
    phase: tuple[Phase, ...] | None = Field(
        default=None, max_length=MAX_REPEATED,
        description=f"Runs in any of these phases: one of {', '.join(PHASES)}, in any case; `phase=failed,error` "
        "or `phase=Failed&phase=Error`. An unknown phase is a 400.",
    )  # fmt: skip
    pipeline: tuple[Annotated[str, Field(max_length=512)], ...] | None = Field(
        default=None, max_length=MAX_REPEATED,
        description="Runs of any of these pipelines, repeated: `pipeline=a&pipeline=b` (a comma is part of a name).",
    )  # fmt: skip
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
    resources: tuple[ResourceFilter, ...] = ()
    sort: str = "-created_at"
    count: bool = False
    limit: int = Field(default=50, ge=1, le=500)
    page_token: str | None = Field(default=None, max_length=2048)

    @property
    def sort_metric(self) -> str | None:
        field = self.sort.lstrip("-")
        return field[len("metric."):] if field.startswith("metric.") else None

    @property
    def sort_resource(self) -> str | None:
        field = self.sort.lstrip("-")
        return field[len("resources."):] if field.startswith("resources.") else None

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


# --- page tokens ----------------------------------------------------------------------------------


def _fingerprint(query: RunListQuery) -> str:
    return page_tokens.fingerprint(query, exclude={"limit", "page_token", "count", "namespaces"})


def _key_kind(query: RunListQuery) -> page_tokens.KeyKind:
    if query.sort_metric is not None or query.sort_resource is not None:
        return "number"
    return SORTS[query.sort.lstrip("-")][1]


def page_token(query: RunListQuery, cursor: Cursor) -> str:
    """The token of the page after `cursor` in this listing."""
    return page_tokens.encode(cursor, kind=_key_kind(query), fingerprint=_fingerprint(query))


def start_after(query: RunListQuery) -> Cursor | None:
    """Where the query's page starts; BadRequest for a token that is malformed or another query's."""
    if not query.page_token:
        return None
    return page_tokens.decode(query.page_token, fingerprint=_fingerprint(query), kind=_key_kind(query), id_type=str)


# --- SQL ------------------------------------------------------------------------------------------

_ANY_OF = {"namespace": "r.namespace", "phase": "r.phase", "pipeline": "r.pipeline_name"}
_SIMPLE = {
    "kfp_run_id": "r.kfp_run_id = {value}",
    "scheduled_workflow": "r.scheduled_workflow = {value}",
    "created_after": "r.created_at >= {value}",
    "created_before": "r.created_at < {value}",
    "finished_after": "r.finished_at >= {value}",
    "finished_before": "r.finished_at < {value}",
    "min_duration": "r.duration_seconds >= {value}",
    "max_duration": "r.duration_seconds <= {value}",
}
# Seconds of the named resource the run used; NULL when it reported none (the writer stores integers only).
_RESOURCE_SECONDS = "(r.resources_duration ->> {name}::text)::double precision"
# left(value, n) is what parameters_by_value indexes (so a value of any length fits in it); the value
# check makes it exact.
_ARGUMENT = (
    f"{{p}}.name = {{name}} AND left({{p}}.value, {INDEXED_PREFIX}) = left({{value}}, {INDEXED_PREFIX})"
    " AND {p}.value = {value}"
)
# The range on left(value, n) is parameters_by_value's too; LIKE makes it exact past n characters.
_ARGUMENT_PREFIX = "p.name = {name} AND left(p.value, {n}) ~>=~ {low} AND {below} p.value LIKE {pattern}"


def like_prefix(prefix: str) -> str:
    """The LIKE pattern of the values starting with `prefix`, its wildcards taken literally."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string starting with `prefix`, byte-wise (as ~<~ compares).

    UTF-8 orders by code point, so it is `prefix` with its last character's successor (surrogates
    are skipped: they cannot be encoded). None when there is none to give: an empty prefix, or one
    ending in U+10FFFF.
    """
    if not prefix or prefix[-1] == "\U0010ffff":
        return None
    following = ord(prefix[-1]) + 1
    return prefix[:-1] + chr(0xE000 if 0xD800 <= following <= 0xDFFF else following)


def _argument_prefix(param: ParamFilter, sql: Statement) -> str:
    low = param.value[:INDEXED_PREFIX]
    high = prefix_upper_bound(low)
    below = "" if high is None else splice("left(p.value, {n}) ~<~ {high} AND", n=str(INDEXED_PREFIX), high=sql.bind(high))
    return splice(
        _ARGUMENT_PREFIX, name=sql.bind(param.name), n=str(INDEXED_PREFIX), low=sql.bind(low), below=below,
        pattern=sql.bind(like_prefix(param.value)),
    )  # fmt: skip


def _filters(query: RunListQuery, sql: Statement) -> str | None:
    """The query's filters as conditions and joins; the listing key's table when a join provides it."""
    _filter_columns(query, sql)
    _filter_labels(query, sql)
    listing_key = _filter_arguments(query, sql)
    _filter_metrics(query, sql)
    _filter_resources(query, sql)
    return listing_key


def _filter_columns(query: RunListQuery, sql: Statement) -> None:
    """Filters on the run row's own columns."""
    for field, column in _ANY_OF.items():
        values = getattr(query, field)
        if values is not None and len(values) == 1:
            # `=` rather than ANY keeps the plan an ordered walk of the column's listing index.
            sql.where("{column} = {value}", column=column, value=sql.bind(values[0]))
        elif values is not None:
            sql.where("{column} = ANY({values}::text[])", column=column, values=sql.bind(list(values)))
    for field, fragment in _SIMPLE.items():
        value = getattr(query, field)
        if value is not None:
            sql.where(fragment, value=sql.bind(value))
    if query.namespaces is not None:
        sql.where("r.namespace = ANY({namespaces}::text[])", namespaces=sql.bind(list(query.namespaces)))
    if query.deleted is not None:
        sql.where("r.deleted_at IS NOT NULL" if query.deleted else "r.deleted_at IS NULL")


def _filter_labels(query: RunListQuery, sql: Statement) -> None:
    for label in query.labels:
        if label.prefix:
            sql.where("r.labels ? {key} AND r.labels ->> {key} LIKE {pattern}",
                      key=sql.bind(label.key), pattern=sql.bind(like_prefix(label.value or "")))  # fmt: skip
        elif label.value is not None:
            sql.where("r.labels @> {label}::jsonb", label=sql.bind({label.key: label.value}))
        else:
            sql.where("NOT r.labels ? {key}" if label.negated else "r.labels ? {key}", key=sql.bind(label.key))


def _filter_arguments(query: RunListQuery, sql: Statement) -> str | None:
    """Filters on run arguments; the first exact one sorted by creation is joined as the listing key."""
    listing_key = None
    for param in query.params:
        if param.prefix:
            sql.where("EXISTS (SELECT 1 FROM parameters p WHERE p.run_id = r.id AND p.step_id = '' AND {argument})",
                      argument=_argument_prefix(param, sql))  # fmt: skip
            continue
        name, value = sql.bind(param.name), sql.bind(param.value)
        if listing_key is None and query.sort.lstrip("-") == "created_at":
            # Ordered by the argument's copy of the listing key, so the page walks the argument's
            # index (parameters_by_value) newest first and stops when full: only the runs that hold
            # it are visited (see migration 0010). Step '' holds one row per argument name (a
            # constraint), so the join repeats no run.
            argument = splice(_ARGUMENT, p="arg", name=name, value=value)
            sql.join("JOIN parameters arg ON arg.run_id = r.id AND arg.step_id = '' AND {argument}", argument=argument)
            listing_key = "arg"
        else:
            argument = splice(_ARGUMENT, p="p", name=name, value=value)
            sql.where(
                "EXISTS (SELECT 1 FROM parameters p WHERE p.run_id = r.id AND p.step_id = '' AND {argument})",
                argument=argument,
            )
    return listing_key


def _filter_metrics(query: RunListQuery, sql: Statement) -> None:
    for metric in query.metrics:
        if metric.name == query.sort_metric:
            # On the sort's own join (see _order): its walk down run_metrics_by_value is then bounded by
            # the filter, where an EXISTS apart from it left the planner to scan or sort every match.
            if "sm" not in sql.aliases:
                _join_sort_metric(query, sql)
            sql.where("sm.value {op} {value}", op=_OPERATORS[metric.op], value=sql.bind(metric.value))
            continue
        sql.where(
            "EXISTS (SELECT 1 FROM run_metrics m WHERE m.run_id = r.id AND m.name = {name} AND m.value {op} {value})",
            name=sql.bind(metric.name), op=_OPERATORS[metric.op], value=sql.bind(metric.value),
        )  # fmt: skip


def _filter_resources(query: RunListQuery, sql: Statement) -> None:
    for resource in query.resources:
        seconds = splice(_RESOURCE_SECONDS, name=sql.bind(resource.name))
        sql.where("{seconds} {op} {value}", seconds=seconds, op=_OPERATORS[resource.op], value=sql.bind(resource.value))


def _join_sort_metric(query: RunListQuery, sql: Statement) -> None:
    sql.join("JOIN run_metrics sm ON sm.run_id = r.id AND sm.name = {metric}", metric=sql.bind(query.sort_metric))
    sql.aliases.add("sm")


def _order(query: RunListQuery, sql: Statement, *, listing_key: str | None) -> paging.Order:
    """The listing's order; a metric or resource sort lists the runs that report it."""
    if query.sort_metric is not None:
        if "sm" not in sql.aliases:
            _join_sort_metric(query, sql)
        return paging.Order(key="sm.value", kind="number", id="r.id", descending=query.descending)
    if query.sort_resource is not None:
        name = sql.bind(query.sort_resource)
        sql.where("r.resources_duration ? {name}", name=name)
        key = splice(_RESOURCE_SECONDS, name=name)
        return paging.Order(key=key, kind="number", id="r.id", descending=query.descending)
    if listing_key == "arg":
        return paging.Order(key="arg.run_sort_at", kind="time", id="arg.run_id", descending=query.descending)
    key, kind = SORTS[query.sort.lstrip("-")]
    return paging.Order(key=key, kind=kind, id="r.id", descending=query.descending)


@cache
def _document_columns() -> str:
    return q("run_documents_r", kfp_details=q("kfp_details"))


async def list_runs(conn: asyncpg.Connection, query: RunListQuery) -> tuple[list[asyncpg.Record], str | None, int | None]:
    """One page of runs: (rows of run_documents_r, next page token, total when asked for)."""
    after = start_after(query)
    sql = Statement()
    listing_key = _filters(query, sql)
    total = await paging.count(conn, sql, source="runs r") if query.count else None
    order = _order(query, sql, listing_key=listing_key)
    page = await paging.fetch_page(
        conn, sql, columns=_document_columns(), source="runs r", order=order, after=after, limit=query.limit
    )
    return page.rows, page_token(query, page.next) if page.next else None, total


# RunOut's fields that run_documents_r reads as JSON text.
_JSON_TEXT = frozenset({"labels", "parameters", "step_counts", "resources_duration", "failed_step", "kfp"})


def run_documents(rows: list[asyncpg.Record]) -> list[dict]:
    """The runs of a page as RunOut's JSON documents, for orjson to write (times aware, in UTC).

    A page of runs is most of what a listing costs when every row becomes a model and every JSON
    column is parsed only to be written again: here each row is a dict, its JSON columns passed
    through as the text Postgres sent (orjson.Fragment). The equality with RunOut's own JSON is a
    test (test_run_listings_answer_what_the_run_models_would).
    """
    if not rows:
        return []
    names = _document_names(tuple(rows[0].keys()))
    fragment = orjson.Fragment
    documents = []
    for row in rows:
        # zip stops at the names: sort_key, the pager's last column, is left out.
        document = dict(zip(names, row.values()))
        for name in _JSON_TEXT:
            if (text := document[name]) is not None:
                document[name] = fragment(text)
        documents.append(document)
    return documents


@cache
def _document_names(columns: tuple[str, ...]) -> tuple[str, ...]:
    names = columns[:-1] if columns[-1] == "sort_key" else columns
    if list(names) != list(RunOut.model_fields):
        raise RuntimeError("run_documents_r no longer lists RunOut's fields in order")
    return names
