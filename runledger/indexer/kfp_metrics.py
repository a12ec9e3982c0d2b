"""Parse a KFP v1 `mlpipeline-metrics` file with the rules KFP itself applies.

KFP's persistence agent decodes the file with protobuf's JSON mapping into `ReportRunMetricsRequest`
(`metrics_reporter.go`), keeps at most 50 metrics per run (`maxMetricsCountLimit`; one file can hold
no more, and the indexer applies the cap across a run's files), and its API server checks
each name against `metricNamePattern` and ignores a second report of the same (run, node, name). The
file is untrusted user output, so the rules are split by the damage done: a file that cannot be read
as a metrics document raises `MetricsFileError`; a bad entry becomes a `MetricError` and the good
entries beside it are kept, so one typo does not hide a run's other metrics. Entries after the
limit are errors without being read further, and the error list itself is bounded.

Decisions where KFP leaves room (each follows protobuf's JSON mapping unless said otherwise):
- a value given as a JSON string is accepted when it spells a JSON number ("0.5", "-1e3"), as proto3
  JSON does for doubles; "NaN"/"Infinity" parse but, like bare NaN tokens and overflowing numbers,
  are rejected as non-finite: JSON output and Postgres comparisons have no use for them;
- `format` takes RAW, PERCENTAGE, or UNSPECIFIED (the enum's real zero name in KFP's run.proto; the
  UI shows it raw), or the enum numbers 0, 1, 2; missing or null means RAW. "FORMAT_UNSPECIFIED" is
  not a name in that enum (jsonpb rejects it), so it is an error;
- `runId`/`run_id` at the top and `nodeId`/`node_id` in an entry are fields of the messages KFP
  decodes into, so jsonpb accepts them; they are ignored (the agent sets both itself);
- a field given twice in one object is an error, as for protojson; a file without `metrics` is an
  error (KFP silently reports nothing), since a metrics file that says nothing is a bug worth seeing.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runledger.indexer.error_wording import json_type, show

# KFP's metricNamePattern, verbatim. Use it with re.fullmatch: Python's `$` also matches before a
# trailing newline, Go's does not.
NAME_PATTERN = "^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$"
_NAME = re.compile(NAME_PATTERN)
# The JSON number grammar; proto3 JSON parses a double given as a string only if it spells one.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NON_FINITE_WORDS = frozenset({"NaN", "Infinity", "-Infinity"})
Format = Literal["RAW", "PERCENTAGE"]
_FORMAT_NAMES: dict[str, Format] = {"RAW": "RAW", "PERCENTAGE": "PERCENTAGE", "UNSPECIFIED": "RAW"}
_FORMAT_NUMBERS: dict[int, Format] = {0: "RAW", 1: "RAW", 2: "PERCENTAGE"}
_ENTRY_FIELDS = frozenset({"name", "numberValue", "number_value", "format", "nodeId", "node_id"})
_TOP_FIELDS = frozenset({"metrics", "runId", "run_id"})


class MetricsFileError(ValueError):
    """The file as a whole is not a KFP metrics document; no metric in it can be trusted."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Metric(_Frozen):
    name: str = Field(pattern=NAME_PATTERN)
    value: float = Field(strict=True, allow_inf_nan=False)
    format: Format = "RAW"


class MetricError(_Frozen):
    index: int = Field(description="Position of the entry in the file's `metrics` list, from 0.")
    name: str | None = Field(
        description="The entry's name when it had a string one (shortened, NUL and surrogates escaped), else None."
    )
    reason: str


class MetricsReport(_Frozen):
    metrics: tuple[Metric, ...] = ()
    errors: tuple[MetricError, ...] = ()


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it saw more than once (json keeps only the last)."""

    duplicates: tuple[str, ...] = ()


def _object_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicates: list[str] = []
        for key, _ in pairs:
            if key in seen:
                duplicates.append(key)
            seen.add(key)
        obj.duplicates = tuple(duplicates)
    return obj


def parse_metrics(
    data: bytes, *, max_file_bytes: int = 1 << 20, max_metrics: int = 50, max_errors: int = 100
) -> MetricsReport:
    """Parse one metrics file; raise MetricsFileError if the file itself is unusable.

    At most `max_errors` entry errors are listed one by one; the rest are counted in one last error,
    so a file of a million bad entries costs a bounded report.
    """
    document = _load(data, max_file_bytes=max_file_bytes)
    metrics: list[Metric] = []
    errors: list[MetricError] = []
    unlisted: list[int] = []
    first_index: dict[str, int] = {}

    def reject(index: int, name: Any, reason: str) -> None:
        if len(errors) < max_errors:
            shown = _printable(name) if isinstance(name, str) else None
            errors.append(MetricError(index=index, name=shown, reason=reason))
        else:
            unlisted.append(index)

    for index, entry in enumerate(document["metrics"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        if len(metrics) >= max_metrics:
            # Like KFP, stop reading once the limit is reached: later entries are not validated.
            reject(index, name, f"over the limit of {max_metrics} metrics")
            continue
        problems = _entry_problems(entry)
        if problems:
            reject(index, name, "; ".join(problems))
        elif name in first_index:
            # KFP keys a metric by (run, node, name) and ignores later reports: the first one wins.
            reject(index, name, f"duplicate name; entry {first_index[name]} already reported it and the first wins")
        else:
            first_index[name] = index
            metrics.append(Metric(name=name, value=_value(entry), format=_format(entry.get("format"))))
    if unlisted:
        reason = f"{len(unlisted)} more entries with errors, from index {unlisted[0]} on, are not listed"
        errors.append(MetricError(index=unlisted[0], name=None, reason=reason))
    return MetricsReport(metrics=tuple(metrics), errors=tuple(errors))


def _load(data: bytes, *, max_file_bytes: int) -> _Object:
    if len(data) > max_file_bytes:
        raise MetricsFileError(f"metrics file is {len(data)} bytes, over the limit of {max_file_bytes} bytes")
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_object_hook)
    except UnicodeDecodeError as exc:
        raise MetricsFileError(f"metrics file is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise MetricsFileError(f"metrics file is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise MetricsFileError("metrics file nests JSON too deeply to parse") from exc
    except ValueError as exc:  # e.g. an integer literal longer than Python's 4300-digit limit
        raise MetricsFileError(f"metrics file is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MetricsFileError(f"metrics file must hold a JSON object, not {json_type(document)}")
    if document.duplicates:
        duplicates = show(list(document.duplicates))
        raise MetricsFileError(f"metrics file gives top-level field(s) {duplicates} more than once")
    unknown = sorted(set(document) - _TOP_FIELDS)
    if unknown:
        raise MetricsFileError(f"metrics file has unknown top-level field(s) {show(unknown)}; only 'metrics' allowed")
    for key in ("runId", "run_id"):
        if not isinstance(document.get(key), str | None):
            raise MetricsFileError(f"metrics file field {key!r} must be a string")
    if "metrics" not in document:
        raise MetricsFileError("metrics file has no 'metrics' field")
    if not isinstance(document["metrics"], list):
        raise MetricsFileError(f"metrics file field 'metrics' must be a list, not {json_type(document['metrics'])}")
    return document


def _entry_problems(entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return [f"entry must be a JSON object, not {json_type(entry)}"]
    problems: list[str] = []
    if isinstance(entry, _Object) and entry.duplicates:
        problems.append(f"field(s) {show(list(entry.duplicates))} given more than once")
    unknown = sorted(set(entry) - _ENTRY_FIELDS)
    if unknown:
        problems.append(f"unknown field(s) {show(unknown)}")
    name = entry.get("name")
    if name is None:
        problems.append("name is missing")
    elif not isinstance(name, str):
        problems.append(f"name must be a string, not {json_type(name)}")
    elif not _NAME.fullmatch(name):
        problems.append(f"name {show(name)} does not match {NAME_PATTERN}")
    try:
        _value(entry)
    except ValueError as exc:
        problems.append(str(exc))
    try:
        _format(entry.get("format"))
    except ValueError as exc:
        problems.append(str(exc))
    return problems


def _value(entry: dict[str, Any]) -> float:
    given = [key for key in ("numberValue", "number_value") if entry.get(key) is not None]
    if not given:
        raise ValueError("numberValue is missing")
    if len(given) > 1:
        raise ValueError("both numberValue and number_value are given")
    (key,) = given
    raw = entry[key]
    if isinstance(raw, bool):  # bool is an int to Python, never a number to JSON
        raise ValueError(f"{key} must be a number, not a boolean")
    if isinstance(raw, int):
        try:
            value = float(raw)
        except OverflowError:
            raise ValueError(f"{key} {show(raw)} is out of the range of a double") from None
    elif isinstance(raw, float):
        value = raw
    elif isinstance(raw, str) and (raw in _NON_FINITE_WORDS or _JSON_NUMBER.fullmatch(raw)):
        value = float(raw)
    elif isinstance(raw, str):
        raise ValueError(f"{key} {show(raw)} is not a number")
    else:
        raise ValueError(f"{key} must be a number, not {json_type(raw)}")
    if not math.isfinite(value):
        raise ValueError(f"{key} {show(raw)} is not a finite number")
    return value


def _format(raw: Any) -> Format:
    if raw is None:
        return "RAW"
    if isinstance(raw, str) and raw in _FORMAT_NAMES:
        return _FORMAT_NAMES[raw]
    # bool is checked first: True == 1 would otherwise find RAW.
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in _FORMAT_NUMBERS:
        return _FORMAT_NUMBERS[raw]
    raise ValueError(f"format {show(raw)} is not one of RAW, PERCENTAGE")


def _printable(name: str) -> str:
    name = _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", name)
    return name if len(name) <= 128 else name[:125] + "..."
