"""Postgres and the agent agree on which of two resourceVersions is older, for any text."""

from __future__ import annotations

import itertools

from runledger.store.writer import is_stale

VERSIONS = [
    None, "", "0", "5", "10", "9", "0010", "abc", "1e5", "-3", " 7", "²", "٣",
    "9223372036854775807", "9223372036854775808", "09223372036854775807", "9" * 5000,
]  # fmt: skip


async def test_every_pair_of_versions_is_ordered_alike(conn):
    pairs = list(itertools.product(VERSIONS, repeat=2))
    rows = await conn.fetch(
        "SELECT resource_version_is_older(a, b) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(a, b, i) ORDER BY i",
        [a for a, _ in pairs], [b for _, b in pairs],
    )  # fmt: skip
    assert [r[0] for r in rows] == [is_stale(a, b) for a, b in pairs]
