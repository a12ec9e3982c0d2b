"""Each input of the bad-input corpus: the good events around the fault are read, the fault is one counted error."""

from __future__ import annotations

import pytest

from runledger.agent.replay import ReplayErrors, read_events
from tests.support.bad_inputs import CASES


@pytest.mark.parametrize("make", CASES, ids=[make.__name__ for make in CASES])
def test_the_good_events_are_read_and_each_fault_is_counted_by_kind(make, tmp_path):
    case = make(tmp_path)
    errors = ReplayErrors()
    names = [event.object["metadata"]["name"] for event in read_events(case.path, errors)]
    assert names == case.runs
    assert dict(errors.by_kind) == case.errors
    assert all(str(case.path) in error.where for error in errors.kept)
