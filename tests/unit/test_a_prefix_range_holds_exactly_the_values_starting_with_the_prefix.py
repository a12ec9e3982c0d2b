"""An argument prefix is bounded as a byte-wise range [prefix, upper): every UTF-8 string starting with
the prefix is inside it, and the bound itself is a string Postgres can hold."""

from __future__ import annotations

import pytest

from runledger.store.run_listing import prefix_upper_bound


@pytest.mark.parametrize("prefix", ["resnet", "a", "x\x7f", "é", "\ud7ff", "a\ud7ff", "\U0010fffe", "\uffff"])
def test_the_bound_is_above_every_value_starting_with_the_prefix_and_encodable(prefix: str) -> None:
    upper = prefix_upper_bound(prefix)
    assert upper is not None
    encoded = upper.encode()  # a lone surrogate would not encode, and never reach the database
    for tail in ("", "\U0010ffff", "zzz"):
        assert prefix.encode() <= (prefix + tail).encode() < encoded


def test_a_prefix_ending_in_the_last_code_point_has_no_upper_bound() -> None:
    assert prefix_upper_bound("a\U0010ffff") is None


def test_an_empty_prefix_has_no_upper_bound() -> None:
    assert prefix_upper_bound("") is None
