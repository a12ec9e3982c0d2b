"""What the ingestor applied and coalesced is reported per resource (workflow, pod) on /metrics."""

from __future__ import annotations

from runledger.agent.exposition import ingest_metrics
from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder, pod_of


def samples(ingestor: Ingestor, name: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.values()): s.value for f in ingest_metrics(ingestor) for s in f.samples if s.name == name}


async def test_applied_and_coalesced_states_are_counted_by_resource(pool, settings):
    a, b = WorkflowBuilder(name="a", uid="uid-a"), WorkflowBuilder(name="b", uid="uid-b")
    ingestor = build_ingestor(pool=pool, settings=settings)
    # Queued before any writer runs, so a second state of one run or step replaces the first.
    await ingestor.submit(WatchEvent.model_validate(a.phase("Running").event("ADDED")))
    await ingestor.submit(WatchEvent.model_validate(a.phase("Succeeded").event()))
    await ingestor.submit(WatchEvent.model_validate(b.phase("Running").event("ADDED")))
    for rv, restarts in (("7", 0), ("8", 1)):
        await ingestor.submit_pod(WatchEvent(type="MODIFIED", object=pod_of(a, "n1", resource_version=rv, restarts=restarts)))
    async with ingestor:
        await ingestor.drain()
        await ingestor.submit_pod(WatchEvent(type="MODIFIED", object=pod_of(a, "n1", resource_version="8", restarts=1)))
        await ingestor.drain()

    assert samples(ingestor, "runledger_events_coalesced_total") == {("workflow",): 1, ("pod",): 1}
    assert samples(ingestor, "runledger_run_states_total") == {
        ("workflow", "applied"): 2, ("workflow", "unchanged"): 0, ("workflow", "stale"): 0,
        ("pod", "applied"): 1, ("pod", "skipped"): 1,
    }  # fmt: skip
