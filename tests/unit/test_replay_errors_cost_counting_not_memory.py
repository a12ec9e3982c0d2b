"""A file of garbage lines is counted exactly, but only the first errors are kept and logged one by one."""

from __future__ import annotations

import logging
import tracemalloc

from runledger.agent.replay import ReplayErrors, read_events
from tests.support.bad_inputs import garbage_lines


def test_many_bad_lines_keep_a_bounded_number_of_records_and_log_lines(tmp_path, caplog):
    case = garbage_lines(tmp_path, lines=20_000)
    errors = ReplayErrors(keep=100, log_first=10)
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING, logger="runledger.agent.replay"):
            names = [event.object["metadata"]["name"] for event in read_events(case.path, errors)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert names == case.runs
    assert errors.by_kind == {"not_json": 20_000} and len(errors) == 20_000
    assert len(errors.kept) == 100 and errors.kept[0].where.endswith(":2")
    # The first ten, a note that the rest are summarised, and a summary now and then.
    assert len(caplog.records) <= 15
    assert peak < 1024 * 1024  # a record per line would take over 3 MB


def test_the_summary_of_errors_gives_the_exact_count_by_kind(tmp_path, caplog):
    errors = ReplayErrors(log_first=2)
    for i in range(5):
        errors.add(f"f:{i}", "not_json", "not a JSON value")
    errors.add("g", "unreadable", "cannot read the file")
    with caplog.at_level(logging.WARNING, logger="runledger.agent.replay"):
        errors.log_summary()
    assert caplog.records[-1].getMessage() == "replay: 6 error(s) so far (not_json: 5, unreadable: 1)"
