"""How the artifact parsers name what they found in an error message."""

from __future__ import annotations

from typing import Any


def show(value: Any) -> str:
    """A short repr; repr escapes NUL and lone surrogates, so messages stay storable as Postgres text."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
