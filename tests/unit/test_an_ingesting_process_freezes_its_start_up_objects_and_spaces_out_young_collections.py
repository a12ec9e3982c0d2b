"""An agent process (run, replay, import) takes what start-up built out of the cyclic collector and runs
young collections less often: full collections no longer rescan its modules for every batch."""

from __future__ import annotations

import gc

import pytest

from runledger.core.collector import YOUNG_THRESHOLD, settle_for_ingest


@pytest.fixture
def collector_restored():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_what_is_alive_at_start_up_is_frozen(collector_restored) -> None:
    alive = object(), [object()]  # a tracked container, alive when start-up ends
    settle_for_ingest()
    assert gc.get_freeze_count() > 0
    assert not any(obj is alive for obj in gc.get_objects())


def test_young_collections_wait_for_many_more_allocations_than_the_default(collector_restored) -> None:
    _, middle, old = gc.get_threshold()
    settle_for_ingest()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert YOUNG_THRESHOLD > 700
