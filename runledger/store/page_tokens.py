"""Opaque keyset page tokens, bound to the query they were issued for.

A token holds the last row's sort key and id, and a short hash of the query's filters and sort.
Replayed against any other query it is refused: a client gets a 400, never a page of wrong rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson
from pydantic import BaseModel

from runledger.store.errors import BadRequest


def query_hash(query: BaseModel, *, exclude: set[str]) -> str:
    significant = query.model_dump(mode="json", exclude=exclude)
    return hashlib.blake2b(orjson.dumps(significant, option=orjson.OPT_SORT_KEYS), digest_size=6).hexdigest()


def encode(fingerprint: str, key: Any, last_id: Any) -> str:
    payload = {"f": fingerprint, "k": key, "i": last_id}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode(token: str, fingerprint: str) -> tuple[Any, Any]:
    """(key, last id) as they were encoded; the caller checks their types."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        filters, key, last_id = payload["f"], payload["k"], payload["i"]
        if not isinstance(filters, str):
            raise TypeError
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise BadRequest("page_token is malformed") from None
    if filters != fingerprint:
        raise BadRequest("page_token was issued for a different query")
    return key, last_id
