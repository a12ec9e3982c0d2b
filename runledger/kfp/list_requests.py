"""KFP's list requests: the filter JSON, sort_by and page tokens of ListRuns, parsed and checked.

KFP's ListRuns takes a ``filter`` (a JSON-serialized Filter message of predicates), a ``sort_by``
("field [asc|desc]") and a ``page_token``. This module turns them into a ListQuery, a typed value
that runledger's keyset listing (runledger/kfp/run_documents.py) compiles into SQL; names are
KFP's (backend/src/apiserver/list, runAPIToModelFieldMap). A page token carries the query it was
issued for, as KFP's does, so later pages can be asked with the token alone.

Every value is bound as a query parameter; only the fixed expressions of FIELDS and SORTS (and the
named blocks of sql/queries/kfp.sql they include) are ever spliced into SQL.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import unquote

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from runledger.store import page_tokens
from runledger.store.read_errors import BadRequest
from runledger.store.page_tokens import Cursor, KeyKind
from runledger.store.sql_blocks import q

MAX_PREDICATES = 32
MAX_IN_VALUES = 200

Api = Literal["v1", "v2"]
Op = Literal["EQUALS", "NOT_EQUALS", "GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN", "LESS_THAN_EQUALS", "IN", "IS_SUBSTRING"]
_OP_NUMBERS: dict[int, Op] = {
    1: "EQUALS", 2: "NOT_EQUALS", 3: "GREATER_THAN", 5: "GREATER_THAN_EQUALS", 6: "LESS_THAN",
    7: "LESS_THAN_EQUALS", 8: "IN", 9: "IS_SUBSTRING",
}  # fmt: skip
_METRIC_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,253}")


class _Proto(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- filters ---------------------------------------------------------------------------------------


# Filterable keys (KFP's runAPIToModelFieldMap names) -> (SQL expression over runs r, kind of value).
# The named expressions are CASE ... END: each splices in whole wherever a column could stand.
FIELDS: dict[str, tuple[str, KeyKind]] = {
    "run_id": ("coalesce(r.kfp_run_id, r.id)", "text"),
    "id": ("coalesce(r.kfp_run_id, r.id)", "text"),
    "display_name": ("r.name", "text"),
    "name": ("r.name", "text"),
    "namespace": ("r.namespace", "text"),
    "status": (q("kfp_v1_status"), "text"),
    "state": (q("kfp_run_state"), "text"),
    "storage_state": ("coalesce((SELECT k.storage_state FROM kfp_run_details k WHERE k.run_id = r.id), 'AVAILABLE')",
                      "text"),  # fmt: skip
    "created_at": ("r.sort_at", "time"),
    "finished_at": ("r.finished_sort", "time"),  # unfinished runs hold -infinity, as KFP's 0
    "scheduled_at": (q("kfp_scheduled_at"), "time"),
    "pipeline_name": ("r.pipeline_name", "text"),  # a runledger extension: KFP has no such key
}
_UNSUPPORTED = {
    "experiment_id": "runledger cannot filter by KFP experiment",
    "pipeline_id": "runledger cannot filter by KFP pipeline id (filter by pipeline_name)",
    "pipeline_version_id": "runledger does not know KFP pipeline version ids (filter by pipeline_name)",
    "recurring_run_id": "runledger does not know KFP recurring run ids",
    "description": "runledger does not record run descriptions",
    "state_history": "state_history cannot be filtered",
    "runtime_details": "runtime_details cannot be filtered",
}
_VALUEFIELDS = ("int_value", "long_value", "string_value", "timestamp_value", "int_values", "long_values", "string_values")
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
        if canonical not in (op_field, "key", *_VALUEFIELDS):
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
    if key not in FIELDS:
        raise BadRequest(f"unknown filter key {key!r}: one of {', '.join(FIELDS)}")
    op = _operation(fields.get(op_field))
    given = [f for f in _VALUEFIELDS if f in fields]
    if len(given) != 1:
        raise BadRequest(f"filter predicate on {key!r} needs exactly one value field, got {len(given)}")
    (value_field,) = given
    values = _values(value_field, fields[value_field], key=key)
    listed = value_field.endswith("_values")
    if op == "IN" and not listed:
        raise BadRequest(f"filter predicate on {key!r}: IN takes int_values, long_values or string_values")
    if listed and op != "IN":
        raise BadRequest(f"filter predicate on {key!r}: {value_field} is only for IN, not {op}")
    kind = FIELDS[key][1]
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
SORTS: dict[str, tuple[str, KeyKind]] = {
    "created_at": ("r.sort_at", "time"),
    "finished_at": ("r.finished_sort", "time"),
    "scheduled_at": (q("kfp_scheduled_at"), "time"),
    "name": ("r.name", "text"),
    "run_id": ("coalesce(r.kfp_run_id, r.id)", "text"),
}
SORT_ALIASES = {"display_name": "name", "id": "run_id"}


def parse_sort(text: str) -> tuple[str, bool]:
    """KFP's sort_by ("field", "field asc", "field desc"; any case) -> (canonical field, descending)."""
    words = text.lower().split()
    if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
        raise BadRequest(f"bad sort_by {text!r}: use \"field\", \"field asc\" or \"field desc\"")
    if not words:
        return "created_at", False  # KFP's default: oldest first
    field = SORT_ALIASES.get(words[0], words[0])
    if field.startswith("metric:"):
        if not _METRIC_NAME.fullmatch(field[len("metric:"):]):
            raise BadRequest(f"bad sort_by {text!r}: the metric name is empty or malformed")
    elif field not in SORTS:
        allowed = ", ".join([*SORTS, *SORT_ALIASES, "metric:NAME"])
        raise BadRequest(f"unsupported sort_by field {words[0]!r}: one of {allowed}")
    return field, len(words) == 2 and words[1] == "desc"


class ListQuery(_Proto):
    """One KFP run listing, whatever page of it is asked for."""

    api: Api
    namespace: str | None = None
    sort: str = "created_at"
    descending: bool = False
    predicates: tuple[Predicate, ...] = ()

    def sort_sql(self) -> tuple[str, KeyKind]:
        if self.sort.startswith("metric:"):
            return "coalesce(sm.value, '-Infinity'::double precision)", "number"
        return SORTS[self.sort]


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


def page_token(query: ListQuery, cursor: Cursor) -> str:
    """The token of the page after `cursor`; it carries its query, so it can be sent alone."""
    return page_tokens.encode(cursor, kind=query.sort_sql()[1], query=query)


def decode_token(token: str) -> tuple[ListQuery, Cursor]:
    opened = page_tokens.open_token(token)
    if opened.query is None:
        raise BadRequest("page_token is malformed")
    try:
        query = ListQuery.model_validate(opened.query)
    except ValidationError:
        raise BadRequest("page_token is malformed") from None
    if not query.sort.startswith("metric:") and query.sort not in SORTS:
        raise BadRequest("page_token is malformed")
    return query, opened.cursor(kind=query.sort_sql()[1], id_type=str)
