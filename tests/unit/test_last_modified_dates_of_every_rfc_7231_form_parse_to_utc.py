"""Last-Modified, as the lean HEAD path reads it: every HTTP date form a recipient must accept, in UTC."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from runledger.indexer.s3 import parse_http_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 02 Mar 2026 10:00:07 GMT", datetime(2026, 3, 2, 10, 0, 7, tzinfo=timezone.utc)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)),  # asctime
        ("Mon, 02 Mar 2026 12:00:07 +0200", datetime(2026, 3, 2, 10, 0, 7, tzinfo=timezone.utc)),
        ("Mon, 02 Foo 2026 10:00:07 GMT", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_last_modified_dates_of_every_rfc_7231_form_parse_to_utc(value, expected):
    parsed = parse_http_date(value)
    assert parsed == expected
    assert parsed is None or parsed.utcoffset().total_seconds() == 0
