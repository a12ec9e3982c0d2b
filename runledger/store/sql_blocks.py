"""Named SQL blocks loaded from ``runledger/sql/queries/*.sql``, and the one way to compose SQL.

A block starts with a ``-- name: some_name`` line and runs to the next one, so every statement
the service runs can be read, reviewed and EXPLAINed in one place, away from Python strings. The
comment lines right after the name document the block and are not part of its SQL.

Composing: a block (or a fixed fragment in code) names its holes ``{slot}``, and ``splice`` fills
them by name, with other blocks, fixed fragments, or the ``$n`` placeholders ``Statement.bind``
hands out. Values are always bound, never spliced. Only ``{lowercase_name}`` is a slot, so a
regular expression's ``{1,11}`` in SQL is left alone, and a slot left unfilled or a fragment
given for no slot is an error: a typo fails loudly, not as odd SQL.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_LEADING_COMMENTS = re.compile(r"\A(?:[ \t]*--[^\n]*(?:\n|\Z)|[ \t]*\n)*")
_SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def parse_blocks(text: str) -> dict[str, str]:
    blocks: dict[str, str] = {}
    matches = list(_NAME.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        name = match.group(1)
        if name in blocks:
            raise ValueError(f"query {name!r} defined twice")
        body = text[match.end() : end].strip()
        blocks[name] = _LEADING_COMMENTS.sub("", body, count=1).strip()
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


def q(name: str, **fragments: str) -> str:
    """The SQL of the named block, its slots filled with `fragments`."""
    return splice(block(name), **fragments)


def block(name: str) -> str:
    """The named block as written, slots and all: a template for Statement.where or .join."""
    try:
        return all_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL block named {name!r} in runledger/sql/queries") from None


def splice(template: str, **fragments: str) -> str:
    """`template` with every ``{slot}`` replaced by the fragment of that name."""
    pattern, slots = _compiled(template)
    if slots != fragments.keys():
        if missing := slots - fragments.keys():
            raise KeyError(f"SQL slot {{{sorted(missing)[0]}}} was not filled")
        raise KeyError(f"no SQL slot for {', '.join(sorted(fragments.keys() - slots))}")
    return pattern.format_map(fragments)


@lru_cache(maxsize=512)
def _compiled(template: str) -> tuple[str, frozenset[str]]:
    """The template as a str.format pattern (every other brace doubled), and its slots.

    Every template is a block or a constant in code, so the cache holds them all.
    """
    pieces = _SLOT.split(template)  # literal text and slot names alternate
    literal = [p.replace("{", "{{").replace("}", "}}") for p in pieces[::2]]
    pattern = "".join(text + (f"{{{slot}}}" if slot is not None else "") for text, slot in zip(literal, [*pieces[1::2], None]))
    return pattern, frozenset(pieces[1::2])


class Statement:
    """A statement being composed: its bound values, and the joins and conditions spliced so far."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.joins: list[str] = []
        self.conditions: list[str] = []
        self.aliases: set[str] = set()  # tables joined under a name later parts of the statement share

    def bind(self, value: Any) -> str:
        """The placeholder of `value`, bound as the statement's next parameter."""
        self.args.append(value)
        return f"${len(self.args)}"

    def join(self, template: str, **fragments: str) -> None:
        self.joins.append(splice(template, **fragments))

    def where(self, template: str, **fragments: str) -> None:
        self.conditions.append(splice(template, **fragments))

    def joined(self) -> str:
        return " ".join(self.joins)

    def condition(self) -> str:
        """The conditions ANDed together; true when there are none."""
        return " AND ".join(self.conditions) or "true"
