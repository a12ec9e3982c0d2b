"""The `deleted` filter of GET /api/v1/runs over real HTTP, with runs deleted the two ways the agent
learns of it: a DELETED watch event, and a relist that no longer holds the run (reconciliation).

`deleted=true` lists exactly the deleted runs, `deleted=false` exactly the others, and no `deleted`
every run, deleted ones included; `count=true` totals agree with what the pages list. A deleted run
keeps its history (docs/architecture.md: "history is never erased"), so it stays readable by id.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest

KEPT = {"uid-kept-1", "uid-kept-2", "uid-kept-3"}
DELETION_TIME = "2026-01-01T01:00:00Z"
WATCHED_GONE = {"uid-gone-with-timestamp", "uid-gone-without-timestamp"}  # a DELETED event was seen
RELISTED_GONE = {"uid-gone-unseen"}  # deleted while the agent was not watching; a relist finds it missing
DELETED = WATCHED_GONE | RELISTED_GONE
EVERY_RUN = KEPT | DELETED


def history(name: str, minute: int) -> tuple[WorkflowBuilder, list[dict]]:
    """A one-step workflow that ran and succeeded: its builder (at its last state) and its events."""
    wf = WorkflowBuilder(name=name, namespace="ml")
    wf.obj["metadata"]["creationTimestamp"] = f"2026-01-01T00:{minute:02d}:00Z"
    running = wf.phase("Running", at=f"2026-01-01T00:{minute:02d}:10Z").node("main", "Running").event("ADDED")
    wf.node("main", "Succeeded", at=f"2026-01-01T00:{minute:02d}:30Z")
    return wf, [running, wf.phase("Succeeded", at=f"2026-01-01T00:{minute:02d}:40Z").event()]


async def relist(pool, settings, listed: list[dict], *, namespaces: list[str]) -> int:
    """What the agent does after a 410: list again, ingest the list, mark unlisted runs deleted."""
    async with build_ingestor(pool=pool, settings=settings, track_runs=True) as ingestor:
        list_started_at = await ingestor.database_now()
        for event in listed:
            await ingestor.submit(WatchEvent.model_validate(event))
        return await ingestor.reconcile(
            listed_run_ids=[e["object"]["metadata"]["uid"] for e in listed],
            list_started_at=list_started_at,
            namespaces=namespaces,
            labels=None,
        )


@pytest.fixture
async def api(pool, settings):
    names = ["kept-1", "gone-with-timestamp", "kept-2", "gone-without-timestamp", "gone-unseen", "kept-3"]
    histories = {name: history(name, minute) for minute, name in enumerate(names)}
    for step in range(2):  # one ingest per state: states of a run waiting together coalesce into the newest
        await ingest(pool, settings, [events[step] for _, events in histories.values()])
    workflows = {name: wf for name, (wf, _) in histories.items()}

    workflows["gone-with-timestamp"].obj["metadata"]["deletionTimestamp"] = DELETION_TIME
    await ingest(pool, settings, [workflows["gone-with-timestamp"].event("DELETED"),
                                  workflows["gone-without-timestamp"].event("DELETED")])  # fmt: skip

    still_listed = [wf.event("ADDED") for name, wf in workflows.items() if f"uid-{name}" not in DELETED]
    assert await relist(pool, settings, still_listed, namespaces=["ml"]) == len(RELISTED_GONE)

    async with serve(settings=settings, pool=pool) as client:
        yield client


async def get_json(api, path: str, params=()) -> dict:
    async with api.get(path, params=list(params)) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body


async def walk(api, params: list[tuple[str, str]], limit: int = 2) -> list[dict]:
    runs, token = [], None
    while True:
        page = [*params, ("limit", str(limit))] + ([("page_token", token)] if token else [])
        body = await get_json(api, "/api/v1/runs", page)
        runs += body["runs"]
        token = body["next_page_token"]
        if token is None:
            return runs


@pytest.mark.parametrize(
    ("deleted", "expected"),
    [("true", DELETED), ("false", KEPT), (None, EVERY_RUN)],
    ids=["deleted=true", "deleted=false", "no-deleted-filter"],
)
async def test_the_deleted_filter_lists_exactly_the_runs_it_names_with_a_matching_total(api, deleted, expected):
    params = [("deleted", deleted)] if deleted is not None else []
    listed = await walk(api, params)
    ids = [r["id"] for r in listed]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert all(r["deleted"] == (r["id"] in DELETED) for r in listed), "each run says whether it was deleted"
    assert all((r["deleted_at"] is not None) == r["deleted"] for r in listed)
    body = await get_json(api, "/api/v1/runs", [*params, ("count", "true"), ("limit", "1")])
    assert body["total"] == len(expected) and len(body["runs"]) == 1


async def test_deleted_and_kept_totals_add_up_to_every_run(api):
    async def total(*params: tuple[str, str]) -> int:
        return (await get_json(api, "/api/v1/runs", [*params, ("count", "true")]))["total"]

    assert await total(("deleted", "true")) + await total(("deleted", "false")) == await total() == len(EVERY_RUN)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("deleted", "true"), ("sort", "name"), ("created_after", "2026-01-01T00:02:00Z")],
         ["gone-unseen", "gone-without-timestamp"]),
        # An argument filter under the default sort pages through the argument's index instead.
        ([("deleted", "false"), ("param.lr", "0.1")], ["kept-3", "kept-2", "kept-1"]),
    ],
    ids=["with-a-sort-and-a-time-filter", "with-an-argument-filter"],
)  # fmt: skip
async def test_the_deleted_filter_combines_with_other_filters_and_sorts(api, params, expected):
    assert [r["name"] for r in await walk(api, params, limit=1)] == expected


@pytest.mark.parametrize("run_id", sorted(DELETED))
async def test_a_deleted_run_stays_readable_by_id_with_its_steps_and_timeline(api, run_id):
    detail = await get_json(api, f"/api/v1/runs/{run_id}")
    assert detail["id"] == run_id and detail["deleted"] is True and detail["deleted_at"] is not None
    assert detail["phase"] == "Succeeded" and detail["step_counts"] == {"Succeeded": 1}
    steps = (await get_json(api, f"/api/v1/runs/{run_id}/steps"))["steps"]
    assert [s["id"] for s in steps] == ["main"]
    transitions = (await get_json(api, f"/api/v1/runs/{run_id}/timeline"))["transitions"]
    assert [(t["from_phase"], t["to_phase"]) for t in transitions if t["step_id"] is None] == [
        (None, "Running"), ("Running", "Succeeded")]  # fmt: skip
    assert [(t["from_phase"], t["to_phase"]) for t in transitions if t["step_id"] == "main"] == [
        (None, "Running"), ("Running", "Succeeded")]  # fmt: skip


async def test_a_deletion_seen_with_its_timestamp_records_that_time(api):
    detail = await get_json(api, "/api/v1/runs/uid-gone-with-timestamp")
    assert datetime.fromisoformat(detail["deleted_at"]) == datetime.fromisoformat(DELETION_TIME)


async def test_a_run_that_was_not_deleted_reads_as_not_deleted(api):
    detail = await get_json(api, "/api/v1/runs/uid-kept-2")
    assert detail["deleted"] is False and detail["deleted_at"] is None
