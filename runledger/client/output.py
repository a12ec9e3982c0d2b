"""How the query commands print: tables sized to the terminal, JSON, YAML, durations and ages.

Tables follow kubectl's: upper-case headers, columns two spaces apart, no borders. When the rows are
wider than the terminal, the columns marked as shrinkable give up width (their values end in ``…``)
before any other, so names and phases stay whole. Colour (a phase's) is added only when the output is
a terminal, after the padding is computed, so escape codes never skew the alignment.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from runledger.client.decoding import dump

GAP = "  "
_PHASE_COLOURS = {"Succeeded": "32", "Failed": "31", "Error": "31", "Running": "34", "Pending": "33", "Omitted": "90",
                  "Skipped": "90"}  # fmt: skip


class Column(NamedTuple):  # a NamedTuple rather than a dataclass: built at import without compiling methods
    header: str
    shrink: bool = False  # may be cut to fit the terminal
    phase: bool = False  # coloured by phase on a terminal


def render_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], *, width: int | None = None,
                 colour: bool = False, header: bool = True) -> str:  # fmt: skip
    """The rows under their headers, each column as wide as its widest cell, cut to ``width`` (None: no cut)."""
    widths = [max([len(c.header)] + [len(row[i]) for row in rows]) for i, c in enumerate(columns)]
    excess = 0 if width is None else sum(widths) + len(GAP) * (len(widths) - 1) - width
    shrinkable = [i for i, c in enumerate(columns) if c.shrink]
    while excess > 0 and shrinkable:
        widest = max(shrinkable, key=lambda i: widths[i])
        floor = max(len(columns[widest].header), 8)
        if widths[widest] <= floor:
            shrinkable.remove(widest)
            continue
        cut = min(excess, widths[widest] - floor)
        widths[widest] -= cut
        excess -= cut
    lines = [_line(columns, [c.header for c in columns], widths, colour=False)] if header else []
    lines += [_line(columns, row, widths, colour=colour) for row in rows]
    return "\n".join(lines)


def _line(columns: Sequence[Column], cells: Sequence[str], widths: Sequence[int], *, colour: bool) -> str:
    out = []
    for column, cell, width in zip(columns, cells, widths, strict=True):
        text = cell if len(cell) <= width else cell[: width - 1] + "…"
        padded = text.ljust(width)
        if colour and column.phase and cell in _PHASE_COLOURS:
            padded = f"\033[{_PHASE_COLOURS[cell]}m{text}\033[0m" + " " * (width - len(text))
        out.append(padded)
    return GAP.join(out).rstrip()


def terminal_width(*, tty: bool, env: Mapping[str, str]) -> int | None:
    """The terminal's width (COLUMNS if set, as ``shutil.get_terminal_size`` reads it; that module costs a
    query command more to import than this); None (no cut) when the output goes to a pipe or a file and
    COLUMNS is unset, so a script reading the table gets whole values."""
    columns = env.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not tty:
        return None
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def paint_phase(phase: str, *, colour: bool) -> str:
    code = _PHASE_COLOURS.get(phase)
    return f"\033[{code}m{phase}\033[0m" if colour and code else phase


def duration(seconds: float | None) -> str:
    """Like kubectl's ages: 45s, 3m12s, 2h5m, 3d4h."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m" if s % 3600 // 60 else f"{s // 3600}h"
    return f"{s // 86400}d{s % 86400 // 3600}h" if s % 86400 // 3600 else f"{s // 86400}d"


def between(start: datetime | None, end: datetime | None, *, now: datetime | None = None) -> str:
    """The time from ``start`` to ``end`` (to now while it runs); ``-`` without a start."""
    if start is None:
        return "-"
    return duration(((end or now or datetime.now(UTC)) - start).total_seconds())


def age(at: datetime | None, *, now: datetime | None = None) -> str:
    return "-" if at is None else duration(((now or datetime.now(UTC)) - at).total_seconds())


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    raise AssertionError("unreachable")


def as_json(value: Any) -> str:
    """Models (or lists and dicts of them) as the API's JSON, indented."""
    return dump(value, indent=True)


def as_yaml(value: Any) -> str:
    import yaml  # only -o yaml pays for it

    # Through the API's JSON, so that times print as the API's RFC 3339 strings.
    return yaml.safe_dump(json.loads(dump(value)), sort_keys=False, allow_unicode=True).rstrip()
