"""The one page-token codec: every sort key a listing orders by comes back from its token as it went in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from runledger.store import page_tokens
from runledger.store.page_tokens import INFINITE_FUTURE, INFINITE_PAST, Cursor

FINGERPRINT = "0123456789ab"
ids = st.one_of(st.text(max_size=64), st.integers(min_value=-(2**63), max_value=2**63 - 1))
zones = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)
)
aware_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
) | st.sampled_from([INFINITE_FUTURE, INFINITE_PAST])
numbers = st.floats(allow_nan=False) | st.integers(min_value=-(2**53), max_value=2**53).map(float)


def round_trip(key: object, run_id: str | int, kind: page_tokens.KeyKind) -> Cursor:
    token = page_tokens.encode(Cursor(key=key, id=run_id), kind=kind, fingerprint=FINGERPRINT)
    return page_tokens.decode(token, fingerprint=FINGERPRINT, kind=kind, id_type=type(run_id))


@given(key=aware_times, run_id=ids)
def test_a_timezone_aware_time_or_an_infinite_one_comes_back_equal(key: datetime, run_id: str | int) -> None:
    cursor = round_trip(key, run_id, "time")
    assert cursor == Cursor(key=key, id=run_id)
    assert cursor.key.tzinfo is not None


@given(key=numbers, run_id=ids)
def test_a_number_finite_or_infinite_comes_back_equal(key: float, run_id: str | int) -> None:
    assert round_trip(key, run_id, "number") == Cursor(key=key, id=run_id)


@given(key=st.text(), run_id=ids)
def test_a_text_comes_back_equal(key: str, run_id: str | int) -> None:
    assert round_trip(key, run_id, "text") == Cursor(key=key, id=run_id)


@given(run_id=ids)
def test_a_listing_ordered_by_id_alone_has_a_null_key(run_id: str | int) -> None:
    assert round_trip(None, run_id, "none") == Cursor(key=None, id=run_id)


def test_the_infinite_times_asyncpg_reads_become_timezone_aware_sort_keys() -> None:
    # asyncpg reads Postgres' ±infinity timestamptz as these naive datetimes.
    assert page_tokens.sort_key(datetime.max) == INFINITE_FUTURE
    assert page_tokens.sort_key(datetime.min) == INFINITE_PAST
    assert round_trip(page_tokens.sort_key(datetime.min), "run", "time").key == INFINITE_PAST


def test_a_token_that_carries_its_query_gives_it_back() -> None:
    from runledger.kfp.list_requests import ListQuery, decode_token, page_token

    query = ListQuery(api="v2", namespace="team-a", sort="finished_at", descending=True)
    token = page_token(query, Cursor(key=INFINITE_PAST, id="run-1"))
    assert decode_token(token) == (query, Cursor(key=INFINITE_PAST, id="run-1"))
