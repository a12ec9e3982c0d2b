"""Named SQL blocks loaded from ``runledger/sql/queries/*.sql``.

A block starts with a ``-- name: some_name`` line and runs to the next one, so every statement
the service runs can be read, reviewed and EXPLAINed in one place, away from Python strings.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_blocks(text: str) -> dict[str, str]:
    blocks: dict[str, str] = {}
    matches = list(_NAME.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = match.group(1)
        if name in blocks:
            raise ValueError(f"query {name!r} defined twice")
        blocks[name] = text[match.end() : end].strip()
    return blocks


@cache
def all_queries() -> dict[str, str]:
    queries: dict[str, str] = {}
    folder = resources.files("runledger.sql") / "queries"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            for name, sql in parse_blocks(entry.read_text()).items():
                if name in queries:
                    raise ValueError(f"query {name!r} defined in two files")
                queries[name] = sql
    return queries


def q(name: str) -> str:
    """The SQL of the named block; KeyError names the missing block."""
    try:
        return all_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL block named {name!r} in runledger/sql/queries") from None
