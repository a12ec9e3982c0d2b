"""The rollups keep each day also in blocks of 4 and 16 days (migration 0027), and a window reads the
largest blocks within it: whatever days a window starts and ends on, across blocks or inside one, with
runs in flight on some of its days, and one namespace or all, the answer counts every run once, as a
scan of the runs does (percentiles within the stated precision)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from runledger.store.pipeline_stats import PERCENTILE_RELATIVE_ERROR, UnitPrices, read_stats
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.stats_scan import rebuilt_rollup_rows, rollup_rows, scan

FIRST_DAY = datetime(2026, 5, 1, tzinfo=timezone.utc)
DAYS = 40
IN_FLIGHT_DAYS = {3, 17, 38}


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(day: int, k: int) -> WorkflowBuilder:
    name = f"d{day}-{k}"
    created = FIRST_DAY + timedelta(days=day, hours=k)
    wf = WorkflowBuilder(name=name, namespace=("ml", "research")[(day + k) % 2])
    wf.obj["metadata"]["creationTimestamp"] = _iso(created)
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = ("train", "score")[k % 2]
    wf.phase("Running", _iso(created + timedelta(seconds=day % 7)))
    wf.node(f"{name}-fit", "Succeeded", templateName="fit", startedAt=_iso(created), at=_iso(created))
    if day in IN_FLIGHT_DAYS and k == 0:
        return wf
    seconds = 5 + (day * 37 + k * 11) % 900
    return wf.phase("Failed" if day % 5 == 0 else "Succeeded", _iso(created + timedelta(seconds=seconds)))


def agrees(answer, exact: dict) -> list[str]:
    wrong = []
    for g in answer.groups:
        e = exact[g.name or ""]
        if (g.count, g.succeeded, g.failed, g.resources is None) != (e["n"], e["succeeded"], e["failed"], True):
            wrong.append(f"{g.name}: counts")
        if (g.duration.count, round(g.duration.mean_seconds * g.duration.count, 3)) != (
            e["duration_n"], round(float(e["duration_sum"]), 3)
        ):  # fmt: skip
            wrong.append(f"{g.name}: durations")
        for figure, key in ((g.duration.p50_seconds, "duration_p50"), (g.duration.p95_seconds, "duration_p95")):
            true = float(e[key])
            if abs(figure - true) > max(true * PERCENTILE_RELATIVE_ERROR, 0.5) + 1e-9:
                wrong.append(f"{g.name}: {key} {figure} vs {true}")
    if len(answer.groups) != len(exact):
        wrong.append(f"{len(answer.groups)} pipelines vs {len(exact)}")
    return wrong


async def test_every_window_of_days_counts_each_run_once_as_a_scan_does(pool, settings, conn):
    await ingest(pool, settings, [run(day, k).event() for day in range(DAYS) for k in range(3)])
    assert await rollup_rows(conn) == await rebuilt_rollup_rows(conn)
    spans = await conn.fetchval("SELECT array_agg(DISTINCT span ORDER BY span) FROM stats_rollup")
    assert spans == [1, 4, 16]
    wrong = {}
    for first in range(0, DAYS, 3):
        for length in (1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 20, 31, 33, DAYS):
            since = FIRST_DAY + timedelta(days=first)
            until = min(since + timedelta(days=length), FIRST_DAY + timedelta(days=DAYS))
            for namespaces in (None, frozenset({"ml"})):
                answer = await read_stats(conn, since=since, until=until, namespaces=namespaces, pipeline=None,
                                          prices=UnitPrices())  # fmt: skip
                exact = await scan(conn, since=since, until=until, namespaces=sorted(namespaces or []) or None)
                if problems := agrees(answer, exact):
                    wrong[(first, length, namespaces)] = problems
    assert wrong == {}
