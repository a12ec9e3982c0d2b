"""The queue keeps one state per run, yet never its history: a state that replaces a waiting one
carries the phases the replaced one recorded, up to a cap past which the oldest are dropped and counted."""

from __future__ import annotations

from runledger.agent.exposition import ingest_metrics
from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.core.settings import DatabaseSettings, IngestSettings, Settings
from runledger.service import build_ingestor
from tests.support.phase_streams import at, two_step_run


async def queued_alone(settings: Settings, events: list[dict]) -> Ingestor:
    """Every event submitted while no writer runs: each state replaces the one before it."""
    ingestor = build_ingestor(pool=None, settings=settings)
    for event in events:
        await ingestor.submit(WatchEvent.model_validate(event))
    return ingestor


async def test_the_waiting_state_carries_every_phase_its_predecessors_recorded_oldest_first(tmp_path):
    ingestor = await queued_alone(Settings(database=DatabaseSettings(data_dir=tmp_path)), two_step_run())
    (work,) = ingestor.queue.pending_items()
    assert work.item.run.phase == "Succeeded"
    assert [(c.step_id, c.phase, c.at) for c in work.earlier] == [
        ("", "Pending", at(0)),
        ("a", "Pending", at(10)),
        ("a", "Running", at(10)),
        ("b", "Pending", at(20)),
        ("b", "Running", at(20)),
        ("", "Running", at(5)),
    ]
    assert ingestor.queue.coalesced == 5
    assert ingestor.stats.phase_changes_dropped == 0


async def test_past_the_cap_the_oldest_phases_are_dropped_and_counted(tmp_path):
    settings = Settings(database=DatabaseSettings(data_dir=tmp_path), ingest=IngestSettings(max_pending_phase_changes=2))
    ingestor = await queued_alone(settings, two_step_run())
    (work,) = ingestor.queue.pending_items()
    assert [(c.step_id, c.phase) for c in work.earlier] == [("b", "Running"), ("", "Running")]
    assert ingestor.stats.phase_changes_dropped == 4
    dropped = [s.value for f in ingest_metrics(ingestor) for s in f.samples
               if s.name == "runledger_phase_changes_dropped_total"]  # fmt: skip
    assert dropped == [4]


async def test_a_phase_the_object_does_not_date_is_dated_by_its_event_s_arrival(tmp_path):
    undated = [dict(e, object=dict(e["object"], metadata=dict(e["object"]["metadata"]))) for e in two_step_run()[:2]]
    del undated[0]["object"]["metadata"]["creationTimestamp"]
    ingestor = build_ingestor(pool=None, settings=Settings(database=DatabaseSettings(data_dir=tmp_path)))
    await ingestor.submit(WatchEvent.model_validate(undated[0]))
    (first,) = ingestor.queue.pending_items()
    await ingestor.submit(WatchEvent.model_validate(undated[1]))
    (work,) = ingestor.queue.pending_items()
    assert [(c.step_id, c.phase, c.at) for c in work.earlier] == [("", "Pending", first.arrived_at)]
