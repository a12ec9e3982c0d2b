"""A finished run re-written with another duration (a retried run finishing again) moves from one histogram
bucket to another: the old bucket, at the end of the day's histogram, is emptied and trimmed away, and the
rollups hold exactly what a rebuild from the stored runs gives."""

from __future__ import annotations

from datetime import datetime, timezone

from runledger.store.pipeline_stats import UnitPrices, read_stats
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.stats_scan import rebuilt_rollup_rows, rollup_rows

DAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


def finished(name: str, *, end: str) -> WorkflowBuilder:
    wf = WorkflowBuilder(name=name)
    wf.obj["metadata"]["creationTimestamp"] = "2026-03-02T10:00:00Z"
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "train"
    wf.phase("Running", "2026-03-02T10:00:00Z")
    wf.node(f"{name}-fit", "Succeeded", templateName="fit", startedAt="2026-03-02T10:00:00Z", at=end)
    return wf.phase("Succeeded", end)


async def test_a_run_that_finishes_again_later_moves_to_its_new_bucket_and_the_old_one_is_trimmed(pool, settings, conn):
    short, longest = finished("short", end="2026-03-02T10:00:10Z"), finished("longest", end="2026-03-02T11:00:00Z")
    await ingest(pool, settings, [short.event(), longest.event()])
    before = await rollup_rows(conn)
    longest.phase("Running", "2026-03-02T10:00:00Z")
    longest.node("longest-fit", "Succeeded", templateName="fit", startedAt="2026-03-02T10:00:00Z", at="2026-03-02T10:00:20Z")
    await ingest(pool, settings, [longest.phase("Succeeded", "2026-03-02T10:00:20Z").event()])
    after = await rollup_rows(conn)
    assert after != before
    assert after == await rebuilt_rollup_rows(conn)
    (train,) = (await read_stats(conn, since=DAY, until=DAY.replace(day=3), namespaces=None, pipeline=None,
                                 prices=UnitPrices())).groups  # fmt: skip
    assert train.duration.count == 2 and train.duration.p95_seconds < 21
