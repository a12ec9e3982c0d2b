"""Opaque keyset page tokens, bound to the query they were issued for: the one codec of every listing.

A token holds the cursor (the last row's sort key and id) and what binds it to its query: either a
short hash of the query's filters and sort (``"f"``; the client sends the query again with each
page) or the query itself (``"q"``; KFP clients send a later page's token alone). Replayed against
any other query it is refused: a client gets a 400, never a page of wrong rows.

Sort keys are typed by the listing's ``KeyKind``, and JSON has no infinities, so:

- ``time``: a timezone-aware datetime as ISO 8601, or ``"infinity"`` / ``"-infinity"`` (Postgres'
  infinite timestamps, the finish of a run still running). A naive time is refused both ways.
- ``number``: a JSON number, or ``"infinity"`` / ``"-infinity"``; never NaN.
- ``text``: a string. ``none``: no sort key (the listing is ordered by id alone), null.

Ids are strings (runs) or integers (artifacts). A token whose key or id is not of its listing's
kind is malformed, a 400 before any query runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import orjson
from pydantic import BaseModel

from runledger.store.read_errors import BadRequest

KeyKind = Literal["time", "number", "text", "none"]
SortKey = datetime | float | str | None

# Postgres' ±infinity timestamps as sort keys. asyncpg reads them as the naive datetime.max/min, which
# `sort_key` turns into these; asyncpg writes either back as ±infinity.
INFINITE_FUTURE = datetime.max.replace(tzinfo=timezone.utc)
INFINITE_PAST = datetime.min.replace(tzinfo=timezone.utc)
_INFINITE_TIMES = {"infinity": INFINITE_FUTURE, "-infinity": INFINITE_PAST}
_INFINITE_NUMBERS = {"infinity": math.inf, "-infinity": -math.inf}


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: its last row's sort key and id; the next page starts after it."""

    key: SortKey
    id: str | int


@dataclass(frozen=True)
class Token:
    """A token opened, not yet checked: what it is bound to, and its cursor as JSON values."""

    fingerprint: str | None
    query: dict[str, Any] | None
    key: Any
    id: Any

    def cursor(self, *, kind: KeyKind, id_type: type[str] | type[int]) -> Cursor:
        """The cursor, its key read as `kind`; BadRequest when key or id are not what the listing holds."""
        if isinstance(self.id, bool) or not isinstance(self.id, id_type):
            raise _malformed()
        if isinstance(self.id, int) and not -(2**63) <= self.id < 2**63:  # past what a bigint holds
            raise _malformed()
        return Cursor(key=_decode_key(self.key, kind=kind), id=self.id)


def fingerprint(query: BaseModel, *, exclude: set[str]) -> str:
    """A short hash of what in `query` decides its rows and their order."""
    significant = query.model_dump(mode="json", exclude=exclude)
    return hashlib.blake2b(orjson.dumps(significant, option=orjson.OPT_SORT_KEYS), digest_size=6).hexdigest()


def encode(cursor: Cursor, *, kind: KeyKind, fingerprint: str | None = None, query: BaseModel | None = None) -> str:
    """A token for the page after `cursor`, bound to the query by its fingerprint or by carrying it."""
    if (fingerprint is None) == (query is None):
        raise ValueError("a page token is bound by a fingerprint or by its query, one of them")
    binding = {"f": fingerprint} if query is None else {"q": query.model_dump(mode="json")}
    payload = {**binding, "k": _encode_key(cursor.key, kind=kind), "i": cursor.id}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def open_token(token: str) -> Token:
    """The token's parts, unchecked but for their shape; BadRequest when it is not a page token."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(payload, dict) or set(payload) not in ({"f", "k", "i"}, {"q", "k", "i"}):
            raise TypeError
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError):
        raise _malformed() from None
    fingerprint, query = payload.get("f"), payload.get("q")
    if not (isinstance(fingerprint, str) or isinstance(query, dict)):
        raise _malformed()
    return Token(fingerprint=fingerprint, query=query, key=payload["k"], id=payload["i"])


def decode(token: str, *, fingerprint: str, kind: KeyKind, id_type: type[str] | type[int]) -> Cursor:
    """The cursor of a token bound by fingerprint, checked against the query it is sent with."""
    opened = open_token(token)
    if opened.fingerprint is None:
        raise _malformed()
    if opened.fingerprint != fingerprint:
        raise BadRequest("page_token was issued for a different query")
    return opened.cursor(kind=kind, id_type=id_type)


def sort_key(value: Any) -> SortKey:
    """A row's sort key as read by asyncpg, as the codec holds it: infinite times made timezone-aware."""
    if isinstance(value, datetime) and value.tzinfo is None and value in (datetime.max, datetime.min):
        return INFINITE_FUTURE if value == datetime.max else INFINITE_PAST
    return value


def _malformed() -> BadRequest:
    return BadRequest("page_token is malformed")


def _encode_key(key: SortKey, *, kind: KeyKind) -> Any:
    if kind == "none" or key is None:
        if key is not None or kind != "none":
            raise ValueError(f"a {kind} sort key cannot be {key!r}")
        return None
    if kind == "time" and isinstance(key, datetime):
        if key.tzinfo is None or key.utcoffset() is None:
            raise ValueError(f"naive datetime {key!r} as a sort key: sort keys are timezone-aware")
        infinite = next((text for text, at in _INFINITE_TIMES.items() if key == at), None)
        return infinite or key.isoformat()
    if kind == "number" and isinstance(key, (int, float)) and not isinstance(key, bool):
        if math.isnan(key):
            raise ValueError("NaN cannot be a sort key")
        return float(key) if math.isfinite(key) else ("infinity" if key > 0 else "-infinity")
    if kind == "text" and isinstance(key, str):
        return key
    raise ValueError(f"{key!r} is not a {kind} sort key")


def _decode_key(raw: Any, *, kind: KeyKind) -> SortKey:
    if kind == "none":
        if raw is not None:
            raise _malformed()
        return None
    if kind == "time" and isinstance(raw, str):
        if raw in _INFINITE_TIMES:
            return _INFINITE_TIMES[raw]
        try:
            key = datetime.fromisoformat(raw)
        except ValueError:
            raise _malformed() from None
        if key.tzinfo is None or key.utcoffset() is None:
            raise _malformed()
        try:
            key.astimezone(timezone.utc)  # asyncpg binds it in UTC: past datetime.max it cannot
        except OverflowError:
            raise _malformed() from None
        return key
    if kind == "number":
        if isinstance(raw, str) and raw in _INFINITE_NUMBERS:
            return _INFINITE_NUMBERS[raw]
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        raise _malformed()
    if kind == "text" and isinstance(raw, str):
        return raw
    raise _malformed()

