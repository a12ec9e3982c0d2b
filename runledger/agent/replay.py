"""Replay source: watch events and Workflow objects read from files.

Accepted, in any mix:

* watch event streams, ``{"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}`` one per line,
  or pretty-printed back to back (what ``kubectl get workflows -A --watch --output-watch-events
  -o json`` prints);
* a JSON or YAML document (YAML may hold several) that is one Workflow or a ``List`` /
  ``WorkflowList`` (``kubectl get workflows -A -o json``): each object becomes an ADDED event.

``.gz`` files are read through gzip. A line or document that cannot be parsed is reported with its
file and line number and skipped; the rest of the file is still read.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pydantic
import yaml

from runledger.core.models import WatchEvent

log = logging.getLogger(__name__)

_MAX_DOCUMENT_LINES = 1_000_000


@dataclass(frozen=True)
class ReplayError:
    where: str  # file:line
    reason: str


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_events(path: Path, errors: list[ReplayError]) -> Iterator[WatchEvent]:
    """Yield the watch events a file holds; parse failures are appended to `errors`."""
    name = path.name.removesuffix(".gz")
    if name.endswith((".yaml", ".yml")):
        yield from _yaml_events(path, errors)
    else:
        yield from _json_events(path, errors)


def _yaml_events(path: Path, errors: list[ReplayError]) -> Iterator[WatchEvent]:
    with _open_text(path) as handle:
        try:
            documents = list(yaml.safe_load_all(handle))
        except yaml.YAMLError as exc:
            errors.append(ReplayError(str(path), f"invalid YAML: {exc}"))
            return
    for index, document in enumerate(documents):
        if document is not None:
            yield from _document_events(document, f"{path}#doc{index + 1}", errors)


def _json_events(path: Path, errors: list[ReplayError]) -> Iterator[WatchEvent]:
    """JSON values one per line, or pretty-printed ones that open and close at column 0."""
    buffer: list[str] = []
    start = 0
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if buffer and line.startswith(("{", "[")):
                # A new top-level value begins: what was buffered never closed (a broken line).
                errors.append(ReplayError(f"{path}:{start}", "not a JSON value"))
                buffer = []
            if not buffer:
                stripped = line.strip()
                if not stripped:
                    continue
                try:
                    value = orjson.loads(stripped)
                except orjson.JSONDecodeError:
                    if line.startswith(("{", "[")):
                        buffer, start = [line], number  # maybe the first line of a pretty-printed value
                    else:
                        errors.append(ReplayError(f"{path}:{number}", "not a JSON value"))
                    continue
                yield from _document_events(value, f"{path}:{number}", errors)
                continue
            buffer.append(line)
            if line.startswith(("}", "]")) or len(buffer) > _MAX_DOCUMENT_LINES:
                text = "".join(buffer)
                buffer = []
                try:
                    value = orjson.loads(text)
                except orjson.JSONDecodeError as exc:
                    errors.append(ReplayError(f"{path}:{start}", f"invalid JSON document: {exc}"))
                    continue
                yield from _document_events(value, f"{path}:{start}", errors)
    if buffer:
        errors.append(ReplayError(f"{path}:{start}", "not a JSON value (unterminated)"))


def _document_events(value: Any, where: str, errors: list[ReplayError]) -> Iterator[WatchEvent]:
    if not isinstance(value, dict):
        errors.append(ReplayError(where, f"expected an object, got {type(value).__name__}"))
        return
    if "type" in value and "object" in value:
        try:
            yield WatchEvent.model_validate(value)
        except pydantic.ValidationError as exc:
            errors.append(ReplayError(where, f"invalid watch event: {_first_error(exc)}"))
        return
    items = value.get("items")
    if isinstance(items, list) and (str(value.get("kind", "")).endswith("List") or "kind" not in value):
        for item in items:
            if isinstance(item, dict):
                yield WatchEvent(type="ADDED", object=item)
            else:
                errors.append(ReplayError(where, "a list item is not an object"))
        return
    yield WatchEvent(type="ADDED", object=value)


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
