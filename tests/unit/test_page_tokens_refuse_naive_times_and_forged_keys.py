"""Page tokens hold timezone-aware times only, and a token whose parts are not its listing's is a 400."""

from __future__ import annotations

import base64
import math
from datetime import datetime

import orjson
import pytest

from runledger.kfp.list_requests import decode_token
from runledger.store import page_tokens
from runledger.store.read_errors import BadRequest
from runledger.store.page_tokens import Cursor

FINGERPRINT = "0123456789ab"


def forged(payload: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def test_a_naive_time_is_not_a_sort_key() -> None:
    with pytest.raises(ValueError, match="naive"):
        page_tokens.encode(Cursor(key=datetime(2024, 1, 1), id="r"), kind="time", fingerprint=FINGERPRINT)


def test_nan_is_not_a_sort_key() -> None:
    with pytest.raises(ValueError, match="NaN"):
        page_tokens.encode(Cursor(key=math.nan, id="r"), kind="number", fingerprint=FINGERPRINT)


@pytest.mark.parametrize(
    ("kind", "key", "run_id"),
    [
        ("time", "2024-01-01T00:00:00", "r"),  # naive
        ("time", "0001-01-01T00:00:00", "r"),  # naive datetime.min, as asyncpg reads -infinity
        ("time", "9999-12-31T23:59:59-05:00", "r"),  # past what Postgres can bind
        ("time", 1704067200, "r"),
        ("number", "-inf", "r"),  # not how the codec writes infinities
        ("number", "0.5", "r"),
        ("number", True, "r"),
        ("number", None, "r"),
        ("text", 3, "r"),
        ("none", "x", 3),
        ("text", "a", 3),  # a run id is text
        ("none", None, "3"),  # an artifact id is an integer
        ("none", None, True),
        ("none", None, 2**63),
    ],
)
def test_a_key_or_id_of_another_kind_is_a_malformed_token(kind: str, key: object, run_id: object) -> None:
    token = forged({"f": FINGERPRINT, "k": key, "i": run_id})
    id_type = int if kind == "none" else str
    with pytest.raises(BadRequest, match="page_token is malformed"):
        page_tokens.decode(token, fingerprint=FINGERPRINT, kind=kind, id_type=id_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["%%%", "eyJmIjoxfQ", forged([1, 2]), forged({"f": 1, "k": None, "i": "r"}),
                                   forged({"f": FINGERPRINT, "k": None}), forged({"q": "x", "k": None, "i": "r"})])  # fmt: skip
def test_what_is_not_a_page_token_is_a_malformed_token(token: str) -> None:
    with pytest.raises(BadRequest, match="page_token is malformed"):
        page_tokens.decode(token, fingerprint=FINGERPRINT, kind="text", id_type=str)


def test_a_token_of_another_query_is_refused_as_such() -> None:
    token = page_tokens.encode(Cursor(key="a", id="r"), kind="text", fingerprint="ba9876543210")
    with pytest.raises(BadRequest, match="different query"):
        page_tokens.decode(token, fingerprint=FINGERPRINT, kind="text", id_type=str)


@pytest.mark.parametrize("key", ["0001-01-01T00:00:00", "2024-01-01T00:00:00"])
def test_a_kfp_token_with_a_naive_time_is_malformed(key: str) -> None:
    query = {"api": "v2", "namespace": None, "sort": "finished_at", "descending": False, "predicates": []}
    with pytest.raises(BadRequest, match="page_token is malformed"):
        decode_token(forged({"q": query, "k": key, "i": "run-1"}))
