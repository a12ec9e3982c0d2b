"""Replay source: watch events and Workflow objects read from files.

Accepted, in any mix:

* watch event streams, ``{"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}`` one per line,
  or pretty-printed back to back (what ``kubectl get workflows -A --watch --output-watch-events
  -o json`` prints);
* a JSON or YAML document (YAML may hold several) that is one Workflow or a ``List`` /
  ``WorkflowList`` (``kubectl get workflows -A -o json``): each object becomes an ADDED event.

``.gz`` files are read through gzip; a UTF-8 byte order mark is skipped. What cannot be read is an
error counted by kind, with its file and line, and skipped: a bad line or document (the rest of the
file is still read, YAML documents one by one), or a whole file (an unreadable ``.gz``, a directory).
A file of garbage costs counting, not memory: only the first errors are kept and logged one by one.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import re
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pydantic
import yaml

from runledger.agent.translate import text_holds_no_nul
from runledger.core.run_state import WatchEvent

log = logging.getLogger(__name__)

_MAX_DOCUMENT_LINES = 1_000_000
# kubectl never writes YAML aliases; a few in a hand-written file are fine, an alias bomb (a few KB
# that expand to gigabytes of parameter values) is refused. Measured in characters of expanded text.
_MAX_ALIAS_EXPANSION = 1_000_000
_DOCUMENT_MARKER = re.compile(r"(---|\.\.\.)(\s|$)")


@dataclass(frozen=True)
class ReplayError:
    where: str  # file:line
    kind: str
    reason: str


class ReplayErrors:
    """Exact counts by kind; the first `keep` errors kept, the first `log_first` logged, then a summary now and then."""

    def __init__(self, *, keep: int = 100, log_first: int = 10, summary_seconds: float = 10.0) -> None:
        self.by_kind: Counter[str] = Counter()
        self.kept: list[ReplayError] = []
        self._keep, self._log_first, self._summary_seconds = keep, log_first, summary_seconds
        self._next_summary = 0.0

    def __len__(self) -> int:
        return self.by_kind.total()

    def add(self, where: str, kind: str, reason: str) -> None:
        self.by_kind[kind] += 1
        if len(self.kept) < self._keep:
            self.kept.append(ReplayError(where, kind, reason))
        if len(self) <= self._log_first:
            log.warning("replay: %s: %s", where, reason)
            if len(self) == self._log_first:
                log.warning("replay: further errors are counted, and summarised every %gs", self._summary_seconds)
                self._next_summary = time.monotonic() + self._summary_seconds
        elif time.monotonic() >= self._next_summary:
            self.log_summary()
            self._next_summary = time.monotonic() + self._summary_seconds

    def log_summary(self) -> None:
        if len(self) > self._log_first:
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.by_kind.items()))
            log.warning("replay: %d error(s) so far (%s)", len(self), kinds)


def unreadable(path: Path) -> str | None:
    """Why `path` cannot be replayed at all, or None. Asked before a replay starts: a wrong name costs
    one line, not a run that ingests nothing."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path} is a directory, not a file: name the files in it"
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror}): check its permissions"
    if path.suffix == ".gz" and head and head != b"\x1f\x8b":
        return f"{path} is named .gz but is not gzip: compress it (gzip) or drop the .gz from its name"
    return None


class ReadPosition:
    """How far the files of a replay have been read, in bytes as stored (compressed for .gz): cheap to
    know, and with the files' sizes a total to measure progress against."""

    def __init__(self) -> None:
        self.finished = 0  # bytes of the files read to their end
        self._current: io.BufferedReader | None = None

    def bytes_read(self) -> int:
        current = self._current
        return self.finished + (current.tell() if current is not None and not current.closed else 0)

    def open(self, path: Path) -> io.BufferedReader:
        self._current = open(path, "rb")
        return self._current

    def close(self, path: Path) -> None:
        """The file is read (to its end, or as far as it could be): it counts whole."""
        if self._current is not None:
            self._current.close()  # a GzipFile over it leaves it open
            self._current = None
        with contextlib.suppress(OSError):
            self.finished += path.stat().st_size


def _open_text(path: Path, position: ReadPosition) -> io.TextIOBase:
    raw = position.open(path)
    # utf-8-sig: a byte order mark (some Windows editors write one) is not part of the first line.
    binary = gzip.GzipFile(fileobj=raw, mode="rb") if path.suffix == ".gz" else raw
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace")


def read_events(path: Path, errors: ReplayErrors, *, position: ReadPosition | None = None) -> Iterator[WatchEvent]:
    """Yield the watch events a file holds; what cannot be read is added to `errors`. ``position``
    follows the bytes read."""
    if path.is_dir():
        errors.add(str(path), "unreadable", "a directory, not a file: name the files in it")
        return
    name = path.name.removesuffix(".gz")
    read = _yaml_events if name.endswith((".yaml", ".yml")) else _json_events
    position = position or ReadPosition()
    try:
        yield from read(path, errors, position)
    except (OSError, EOFError, zlib.error) as exc:
        # The events before the fault were read; the rest of the file cannot be.
        errors.add(str(path), "unreadable", f"cannot read the file ({type(exc).__name__}: {exc}); the rest of it is skipped")
    finally:
        position.close(path)


def _yaml_events(path: Path, errors: ReplayErrors, position: ReadPosition) -> Iterator[WatchEvent]:
    with _open_text(path, position) as handle:
        for start, text in _yaml_documents(handle):
            where = f"{path}:{start}"
            try:
                # Leading blank lines make the parser's line numbers those of the file.
                document = _load_yaml("\n" * (start - 1) + text)
            except yaml.YAMLError as exc:
                errors.add(where, "invalid_yaml", f"invalid YAML document: {_one_line(exc)}")
                continue
            except _AliasBomb as exc:
                errors.add(where, "yaml_aliases", str(exc))
                continue
            except RecursionError:
                errors.add(where, "too_deep", "YAML document nested too deeply")
                continue
            if document is not None:
                # YAML writes a NUL more ways than one (\0, \x00, \u0000): translation looks for itself.
                yield from _document_events(document, where, errors, nul_free=False)


def _yaml_documents(lines: Iterator[str]) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each document, split at ``---`` / ``...`` markers.

    Each is parsed alone, so a broken document (which leaves a YAML parser unable to go on) costs
    only itself, and memory holds one document at a time. The spec forbids a marker at column 0
    inside a document, so splitting there is exact.
    """
    chunk: list[str] = []
    start = 1
    for number, line in enumerate(lines, start=1):
        marker = _DOCUMENT_MARKER.match(line)
        if marker and marker[1] == "---" and not _only_directives(chunk):
            if chunk:
                yield start, "".join(chunk)
            chunk, start = [], number
        chunk.append(line)
        if marker and marker[1] == "...":
            yield start, "".join(chunk)
            chunk, start = [], number + 1
    if chunk:
        yield start, "".join(chunk)


def _only_directives(chunk: list[str]) -> bool:
    """True if the lines so far are %-directives (and comments) that belong to the next document."""
    content = [line for line in chunk if line.strip() and not line.lstrip().startswith("#")]
    return bool(content) and all(line.startswith("%") for line in content)


class _AliasBomb(Exception):
    pass


def _load_yaml(text: str) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_alias_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_alias_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand it by more than _MAX_ALIAS_EXPANSION characters, or refer to themselves."""
    sizes: dict[int, int] = {}  # node id -> expanded size; -1 while being measured
    unique = 0

    def size(node: yaml.Node) -> int:
        nonlocal unique
        known = sizes.get(id(node))
        if known == -1:
            raise _AliasBomb("a YAML alias refers to its own anchor: refused")
        if known is not None:
            return known
        sizes[id(node)] = -1
        if isinstance(node, yaml.ScalarNode):
            total = len(node.value) + 1
            unique += total
        else:
            unique += 1
            total = 1
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            for child in children:
                total += size(child)
        sizes[id(node)] = total
        return total

    expanded = size(root)
    if expanded - unique > _MAX_ALIAS_EXPANSION:
        raise _AliasBomb(
            f"YAML aliases expand this document by {expanded - unique} characters, more than the "
            f"{_MAX_ALIAS_EXPANSION} allowed: write the values out (kubectl never uses aliases)"
        )


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _json_events(path: Path, errors: ReplayErrors, position: ReadPosition) -> Iterator[WatchEvent]:
    """JSON values one per line, or pretty-printed ones that open and close at column 0."""
    buffer: list[str] = []
    start = 0
    with _open_text(path, position) as handle:
        for number, line in enumerate(handle, start=1):
            if buffer and line.startswith(("{", "[")):
                # A new top-level value begins: what was buffered never closed (a broken line).
                errors.add(f"{path}:{start}", "not_json", "not a JSON value")
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
                        errors.add(f"{path}:{number}", "not_json", "not a JSON value")
                    continue
                yield from _document_events(value, f"{path}:{number}", errors, nul_free=text_holds_no_nul(stripped))
                continue
            buffer.append(line)
            if line.startswith(("}", "]")) or len(buffer) > _MAX_DOCUMENT_LINES:
                text = "".join(buffer)
                buffer = []
                try:
                    value = orjson.loads(text)
                except orjson.JSONDecodeError as exc:
                    errors.add(f"{path}:{start}", "not_json", f"invalid JSON document: {exc}")
                    continue
                yield from _document_events(value, f"{path}:{start}", errors, nul_free=text_holds_no_nul(text))
    if buffer:
        errors.add(f"{path}:{start}", "not_json", "not a JSON value (unterminated)")


def _document_events(value: Any, where: str, errors: ReplayErrors, *, nul_free: bool) -> Iterator[WatchEvent]:
    """The events of one decoded document; `nul_free`: its text passed `text_holds_no_nul`."""
    if not isinstance(value, dict):
        errors.add(where, "not_an_object", f"expected an object, got {type(value).__name__}")
        return
    if "type" in value and "object" in value:
        try:
            # Set here, over whatever the document says of it: only the text decides.
            yield WatchEvent.model_validate({**value, "nul_free": nul_free})
        except pydantic.ValidationError as exc:
            errors.add(where, "invalid_event", f"invalid watch event: {_first_error(exc)}")
        return
    items = value.get("items")
    if isinstance(items, list) and (str(value.get("kind", "")).endswith("List") or "kind" not in value):
        for item in items:
            if isinstance(item, dict):
                yield WatchEvent(type="ADDED", object=item, nul_free=nul_free)
            else:
                errors.add(where, "not_an_object", "a list item is not an object")
        return
    yield WatchEvent(type="ADDED", object=value, nul_free=nul_free)


def _first_error(exc: pydantic.ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
