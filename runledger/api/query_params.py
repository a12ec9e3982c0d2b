"""Query strings of the listing endpoints, parsed into the typed requests the store takes.

Each parser checks the whole request before any query runs, page token included, and turns
anything malformed into a BadRequest (400) that says what is wrong: an unknown or repeated
parameter, a value out of range, a filter or sort written wrong, a token of another query.

Run listings take repeatable filters written ``label=team=nlp`` / ``label=team`` / ``label=!team``,
``param.lr=0.1``, ``metric.accuracy>=0.9`` and ``resources.cpu>=100`` (seconds of a resource the
run used; operators ``= != < <= > >=``); a label or argument
value ending in ``*`` is a prefix (``param.model=resnet*``). ``phase`` and ``namespace`` take
comma-separated lists, and they and ``pipeline`` may be repeated: any of the values matches.
Pipelines are not split on commas, as a pipeline's name may hold one. Phases are read in any case
and written as Argo spells them.
"""

from __future__ import annotations

import math
import re
from typing import TypeVar

from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError

from runledger.core.run_state import PHASES
from runledger.store import artifact_listing, run_listing
from runledger.store.read_errors import BadRequest
from runledger.store.lineage_graph import LineageQuery, parse_ref
from runledger.store.run_listing import NAME, LabelFilter, MetricFilter, ParamFilter, ResourceFilter, RunListQuery

Q = TypeVar("Q", bound=BaseModel)
_COMPARISON = re.compile(rf"^(metric|resources)\.({NAME}?)(>=|<=|!=|=|>|<)(.*)$", re.S)
_PARAM = re.compile(rf"^param\.({NAME})=(.*)$", re.S)
_LABEL = re.compile(r"^(!)?([A-Za-z0-9_.\-/]{1,317})(?:=(.*))?$", re.S)
_PHASES = {phase.lower(): phase for phase in PHASES}
# Keys any of whose values match, and whether one value may list several, comma-separated.
_ANY_OF = {"phase": True, "namespace": True, "pipeline": False}


def parse_run_query(params: MultiDictProxy[str], *, max_limit: int = 500) -> RunListQuery:
    """GET /api/v1/runs's query string -> RunListQuery."""
    plain: dict[str, str] = {}
    any_of: dict[str, list[str]] = {}
    labels: list[LabelFilter] = []
    param_filters: list[ParamFilter] = []
    metric_filters: list[MetricFilter] = []
    resource_filters: list[ResourceFilter] = []
    for key, value in params.items():
        if key == "label":
            labels.append(_label(value))
        elif key.startswith("param."):
            match = _PARAM.match(f"{key}={value}")
            if not match:
                raise BadRequest(f"bad parameter filter {key!r}: use param.NAME=VALUE")
            value, prefix = _maybe_prefix(match[2])
            param_filters.append(ParamFilter(name=match[1], value=value, prefix=prefix))
        elif key.startswith("metric."):
            metric_filters.append(MetricFilter(**_comparison(key, value)))
        elif key.startswith("resources."):
            resource_filters.append(ResourceFilter(**_comparison(key, value)))
        elif key in _ANY_OF:
            any_of.setdefault(key, []).extend(value.split(",") if _ANY_OF[key] else [value])
        elif key in plain:
            raise BadRequest(f"parameter {key!r} given more than once")
        else:
            plain[key] = value
    repeated = (("label", labels), ("param.", param_filters), ("metric.", metric_filters),
                ("resources.", resource_filters))  # fmt: skip
    for what, found in repeated:
        if len(found) > run_listing.MAX_REPEATED:
            raise BadRequest(f"at most {run_listing.MAX_REPEATED} {what} filters")
    if "phase" in any_of:
        any_of["phase"] = [_phase(p) for p in any_of["phase"]]
    filters = {"labels": labels, "params": param_filters, "metrics": metric_filters, "resources": resource_filters}
    query = _validated(RunListQuery, {**plain, **any_of, **filters})
    _check_sort(query.sort)
    _check_limit(query.limit, max_limit=max_limit)
    run_listing.start_after(query)  # a bad token is a 400 before any query runs
    return query


def parse_artifact_query(params: MultiDictProxy[str], *, max_limit: int) -> artifact_listing.ArtifactQuery:
    """GET /api/v1/artifacts's query string -> ArtifactQuery."""
    query = _validated(artifact_listing.ArtifactQuery, _once_each(params))
    if query.step and not query.run:
        raise BadRequest("step needs run: node ids are unique within a run only")
    _check_limit(query.limit, max_limit=max_limit)
    artifact_listing.start_after(query)
    return query


def parse_lineage_query(params: MultiDictProxy[str]) -> LineageQuery:
    """GET /api/v1/lineage's query string -> LineageQuery."""
    query = _validated(LineageQuery, _once_each(params), unknown_hint=": use node, direction, depth, limit")
    parse_ref(query.node)  # a malformed node is a 400 before any query runs
    return query


def _once_each(params: MultiDictProxy[str]) -> dict[str, str]:
    duplicated = sorted({k for k in params if len(params.getall(k)) > 1})
    if duplicated:
        raise BadRequest(f"parameter(s) given more than once: {', '.join(duplicated)}")
    return dict(params)


def _validated(model: type[Q], data: dict[str, object], *, unknown_hint: str = "") -> Q:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "query"
        if error["type"] == "extra_forbidden":
            raise BadRequest(f"unknown parameter {where!r}{unknown_hint}") from None
        raise BadRequest(f"{where}: {error['msg']}") from None


def _check_limit(limit: int, *, max_limit: int) -> None:
    if limit > max_limit:
        raise BadRequest(f"limit must be at most {max_limit}")


def _phase(text: str) -> str:
    phase = _PHASES.get(text.strip().lower())
    if phase is None:
        raise BadRequest(f"unknown phase {text!r}: one of {', '.join(PHASES)} (any case), comma-separated for several")
    return phase


def _maybe_prefix(value: str) -> tuple[str, bool]:
    """A value ending in `*` means every value starting with the rest."""
    return (value[:-1], True) if value.endswith("*") else (value, False)


def _label(value: str) -> LabelFilter:
    match = _LABEL.match(value)
    if not match or (match[1] and match[3] is not None):
        raise BadRequest(
            f"bad label selector {value!r}: use label=KEY=VALUE, label=KEY=PREFIX*, label=KEY or label=!KEY"
        )
    if match[3] is None:
        return LabelFilter(key=match[2], negated=bool(match[1]))
    label_value, prefix = _maybe_prefix(match[3])
    return LabelFilter(key=match[2], value=label_value, prefix=prefix)


def _comparison(key: str, value: str) -> dict[str, object]:
    """name, op and value of a `metric.NAME OP NUMBER` or `resources.NAME OP NUMBER` filter."""
    # `metric.acc>=0.9` reaches us as key "metric.acc>" and value "0.9"; `metric.acc<0.9` as a bare
    # key. Rejoining them gives back what the client wrote.
    text = key if (value == "" and any(c in key for c in "<>")) else f"{key}={value}"
    kind = key.split(".", 1)[0]
    match = _COMPARISON.match(text)
    if not match or not match[2]:
        raise BadRequest(f"bad {kind} filter {text!r}: use {kind}.NAME OP NUMBER with OP one of = != < <= > >=")
    try:
        number = float(match[4])
    except ValueError:
        raise BadRequest(f"bad {kind} filter {text!r}: {match[4]!r} is not a number") from None
    if not math.isfinite(number):
        raise BadRequest(f"bad {kind} filter {text!r}: the number must be finite")
    return {"name": match[2], "op": match[3], "value": number}


def _check_sort(sort: str) -> None:
    field = sort.lstrip("-")
    if sort.count("-") > 1 or not sort:
        raise BadRequest(f"bad sort {sort!r}")
    for kind in ("metric", "resources"):
        if field.startswith(f"{kind}."):
            if not re.fullmatch(NAME, field[len(kind) + 1 :]):
                raise BadRequest(f"bad sort {sort!r}: {kind} name is empty or malformed")
            return
    if field not in run_listing.SORTS:
        allowed = ", ".join([*run_listing.SORTS, "metric.NAME", "resources.NAME"])
        raise BadRequest(f"unknown sort key {field!r}: one of {allowed}, with '-' for descending")
