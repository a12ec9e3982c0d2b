"""A run in flight's rows (stats_live) change by what each write changed (the steps it wrote, their pods,
a Retry step's new attempt), not by working the whole run out again: a run of 300 steps written step by
step, with attempts retried and pods observed on the way, has after every write the figures a scan of its
stored rows gives, per template and for the run, and once finished those of the rollups."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from runledger.store.pipeline_stats import UnitPrices, read_stats
from tests.support.builders import WorkflowBuilder, pod_of
from tests.support.stats_scan import (
    live_rows,
    rebuilt_live_rows,
    rebuilt_rollup_rows,
    rollup_rows,
    scan,
    scan_steps,
)

STEPS = 300
PIPELINE = "fan-out"
DAY = datetime(2026, 4, 7, tzinfo=timezone.utc)
CREATED = DAY + timedelta(hours=9)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(second: int) -> str:
    return _iso(CREATED + timedelta(seconds=second))


def _run() -> WorkflowBuilder:
    wf = WorkflowBuilder(name="big")
    wf.obj["metadata"]["creationTimestamp"] = _iso(CREATED)
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = PIPELINE
    wf.phase("Running", _at(5))
    return wf.node("big", "Running", type="DAG", templateName="main", at=_at(5))


def _template(k: int) -> str:
    return ("load", "fit", "score")[k % 3]


def _step(wf: WorkflowBuilder, k: int) -> None:
    """Step k starts; the one before it ends (every 7th failing), but every 10th fails into a Retry step that
    gains its second attempt a write later (only an edge changes) and succeeds with it the write after."""
    wf.node(f"s{k}", "Running", parent="big", templateName=_template(k), startedAt=_at(10 + k), at=_at(10 + k))
    if k == 0:
        return
    before, retry = f"s{k - 1}", f"r{k - 1}"
    if (k - 1) % 10 == 0:
        wf.obj["status"]["nodes"]["big"]["children"].remove(before)
        wf.node(retry, "Running", parent="big", type="Retry", templateName=_template(k - 1), at=_at(10 + k))
        wf.node(before, "Failed", parent=retry, at=_at(10 + k), message="Error (exit code 2)")
    else:
        failing = (k - 1) % 7 == 0
        wf.node(before, "Failed" if failing else "Succeeded", at=_at(10 + k + k % 5),
                message="OOMKilled (exit code 137)" if failing else None)  # fmt: skip
    if k >= 2 and (k - 2) % 10 == 0:
        wf.node(f"s{k - 2}b", "Running", parent=f"r{k - 2}", templateName=_template(k - 2), startedAt=_at(10 + k),
                at=_at(10 + k))  # fmt: skip
    if k >= 3 and (k - 3) % 10 == 0:
        wf.node(f"s{k - 3}b", "Succeeded", at=_at(12 + k)).node(f"r{k - 3}", "Succeeded", at=_at(12 + k))


async def _stats_agree_with_a_scan(conn) -> list[str]:
    wrong = []
    if await live_rows(conn) != await rebuilt_live_rows(conn):
        wrong.append("rows of the run in flight")
    answer = await read_stats(conn, since=DAY, until=DAY + timedelta(days=1), namespaces=None,
                              pipeline=PIPELINE, prices=UnitPrices())  # fmt: skip
    groups = {g.name or "": g for g in answer.groups}
    steps = await scan_steps(conn, pipeline=PIPELINE)
    for template, e in steps.items():
        g = groups.get(template)
        figures = None if g is None else (g.count, g.succeeded, g.failed, g.other, g.duration and g.duration.count,
                                          g.duration and round(g.duration.mean_seconds * g.duration.count, 3))
        if figures != (e["n"], e["succeeded"], e["failed"], e["other"], e["duration_n"] or None,
                       round(float(e["duration_sum"]), 3) if e["duration_n"] else None):  # fmt: skip
            wrong.append(f"{template}: {figures} vs {e}")
    run = (await scan(conn, since=DAY, until=DAY + timedelta(days=1)))[PIPELINE]
    own = groups[""]
    if (own.count, own.succeeded, own.failed, own.retries, own.flaky) != (
        run["n"], run["succeeded"], run["failed"], run["retries"], run["flaky"]
    ):  # fmt: skip
        wrong.append(f"the run: {own} vs {run}")
    if own.step_duration is not None and own.step_duration.count != sum(e["duration_n"] for e in steps.values()):
        wrong.append("the run's step durations")
    return wrong


async def test_a_run_of_300_steps_written_step_by_step_has_exact_figures_after_every_write(pool, settings, conn):
    wf = _run()
    wrong: dict[int, list[str]] = {}
    async with build_ingestor(pool=pool, settings=settings, track_runs=True) as ingestor:
        for k in range(STEPS):
            _step(wf, k)
            await ingestor.submit(WatchEvent.model_validate(wf.event()))
            if k % 25 == 24:  # a pod started two seconds after its node: the step's queue
                pod = pod_of(wf, f"s{k}", resource_version=str(10_000 + k))
                pod["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": _at(12 + k)}}
                await ingestor.submit_pod(WatchEvent.model_validate({"type": "ADDED", "object": pod}))
            await ingestor.drain()
            if problems := await _stats_agree_with_a_scan(conn):
                wrong[k] = problems
        assert wrong == {}
        assert await conn.fetchval("SELECT count(*) FROM steps WHERE type = 'Retry'") == STEPS // 10
        for node in wf.obj["status"]["nodes"].values():
            if node["phase"] == "Running":
                node.update(phase="Succeeded", finishedAt=_at(20 + STEPS))
        await ingestor.submit(WatchEvent.model_validate(wf.phase("Succeeded", _at(20 + STEPS)).event()))
        await ingestor.drain()
    assert await live_rows(conn) == {"stats_live": set(), "stats_live_causes": set()}
    assert await rollup_rows(conn) == await rebuilt_rollup_rows(conn)
    assert await _stats_agree_with_a_scan(conn) == []
