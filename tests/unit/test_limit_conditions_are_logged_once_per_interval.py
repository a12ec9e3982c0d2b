"""A flood of refused or timed-out connections is one log line per interval, with its count."""

from __future__ import annotations

import logging

from runledger.api.serving import Throttled


def test_a_condition_is_logged_once_per_interval_with_the_count_since_the_last_line(caplog):
    now = [0.0]
    throttled = Throttled(interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="runledger.api.serving"):
        for _ in range(20_000):
            throttled.note("over_cap", cap=100)
        now[0] = 61.0
        throttled.note("over_cap", cap=100)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "connection cap (100) reached with every connection busy: refused 1 connection(s)",
        "connection cap (100) reached with every connection busy: refused 20000 connection(s)",
    ]
