"""Paging through GET /api/v1/runs while new runs arrive, for every sort in both directions, with and
without a parameter filter: no run that existed when paging began is skipped or listed twice, and
every run listed is in its place in the listing's order (docs/api.md: keyset pages "never shift or
repeat rows" of runs arriving meanwhile).

Between page requests, runs are ingested whose sort key lands everywhere relative to the page just
read: beyond both ends of the listing, one step before and one step after the cursor, and on the
cursor's own key with an id on either side of the cursor's (and, for finish time and duration,
unfinished runs, which sort as -infinity). The seeded runs share each sort key in pairs, so page
boundaries (three runs a page) fall inside groups of equal keys, where only the id keeps the place.
Runs whose own sort key changes while a client pages are documented as moving and are not
exercised here.

Every sort key is a number on one grid, mapped to the field the sort reads (creation time, finish
time, duration, name, the `score` metric) by a function that keeps order, so the expected order is
computed here from the grid, not taken from the API. Names and ids are fixed-width, so Postgres'
collation and Python agree on their order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.artifacts import index_everything
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.s3 import argo_tgz, s3_settings

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
COLUMN_SORTS = ["created_at", "finished_at", "duration", "name"]
METRIC_SORT = "metric.score"
SORTS = [*COLUMN_SORTS, METRIC_SORT]
LIMIT = 3
GAPS_WITH_ARRIVALS = 4  # then page to the end undisturbed: arrivals ahead of the cursor lengthen the walk
MAX_PAGES = 40

# The listing's filter: (query parameters, which runs it selects).
Filter = tuple[list[tuple[str, str]], Callable[["Run"], bool]]
FILTERS: dict[str, Filter] = {
    "unfiltered": ([], lambda run: True),
    "param.lr=0.1": ([("param.lr", "0.1")], lambda run: run.lr == "0.1"),
}


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Run:
    """A run given by its place on each sort's grid; a None key is an unfinished run (finish time
    and duration both unknown)."""

    id: str
    namespace: str
    lr: str
    keys: dict[str, int | None]

    @property
    def name(self) -> str:
        return f"run-{self.keys['name']:05d}"

    @property
    def created(self) -> datetime:
        return T0 + timedelta(seconds=self.keys["created_at"])

    @property
    def finished(self) -> datetime | None:
        key = self.keys["finished_at"]
        return None if key is None else T0 + timedelta(days=1, seconds=key)

    @property
    def started(self) -> datetime:
        if self.finished is None:
            return self.created
        return self.finished - timedelta(seconds=self.keys["duration"])

    @property
    def score(self) -> float:
        return float(self.keys[METRIC_SORT])


def run_id(base: int, serial: int) -> str:
    return f"id-{base:06d}-{serial:03d}"


def id_base(run: Run) -> int:
    return int(run.id.split("-")[1])


# Seed j belongs to pair j // 2; both runs of a pair share every key. Each sort ranks the pairs
# differently (pair * step + shift, mod 8), so one sort's order tells nothing of another's.
PAIR_RANKS = {"created_at": (1, 0), "finished_at": (3, 1), "duration": (5, 2), "name": (7, 3), METRIC_SORT: (3, 5)}
UNFINISHED_PAIRS = {2, 5}
PAIRS_WITHOUT_THE_PARAMETER = {0, 3, 6}


def seed(j: int) -> Run:
    pair = j // 2
    keys: dict[str, int | None] = {sort: 1000 + 10 * ((pair * step + shift) % 8) for sort, (step, shift) in PAIR_RANKS.items()}
    if pair in UNFINISHED_PAIRS:
        keys["finished_at"] = keys["duration"] = None
    return Run(
        id=run_id(1000 + 10 * j, 0),
        namespace="ml" if j % 2 == 0 else "ml-twin",  # the pair shares its name too: one in each namespace
        lr="0.01" if pair in PAIRS_WITHOUT_THE_PARAMETER else "0.1",
        keys=keys,
    )


SEEDS = [seed(j) for j in range(16)]


def arrival(sort: str, key: int | None, base: int, serial: int) -> Run:
    keys: dict[str, int | None] = {s: 50_000 + serial for s in SORTS}  # elsewhere on the other sorts
    keys[sort] = key
    if key is None:
        keys["finished_at"] = keys["duration"] = None
    return Run(id=run_id(base, serial), namespace=f"arrivals-{serial:03d}", lr="0.1", keys=keys)


def arrivals_around(cursor: Run, sort: str, serials: Iterator[int]) -> list[Run]:
    """New runs sorting beyond both ends, next to the cursor on either side, and on its key."""
    key, base = cursor.keys[sort], id_base(cursor)
    spots: list[tuple[int | None, int | None]] = [(5, None), (99_000, None)]  # (key, id base; None: any)
    if key is not None:
        spots += [(key - 1, None), (key + 1, None)]
    # A serial is larger than every earlier one: base - 1 sorts before the cursor's id, base after it.
    spots += [(key, base - 1), (key, base)]
    if sort in ("finished_at", "duration"):
        spots.append((None, None))
    runs = []
    for key_here, base_here in spots:
        serial = next(serials)
        runs.append(arrival(sort, key_here, 500_000 + serial if base_here is None else base_here, serial))
    return runs


def listing_order(runs: Iterable[Run], sort: str, *, descending: bool) -> list[str]:
    def place(run: Run) -> tuple[float, str]:
        key = run.keys[sort]
        return (float("-inf") if key is None else key, run.id)

    return [run.id for run in sorted(runs, key=place, reverse=descending)]


class Store:
    """The runs recorded so far, written the way the agent writes them: through ingest, and for the
    metric each run's KFP metrics file in S3, read by the artifact indexer."""

    def __init__(self, pool, settings, s3_objects=None) -> None:
        self.pool, self.settings, self.s3_objects = pool, settings, s3_objects
        self.runs: dict[str, Run] = {}

    async def record(self, runs: list[Run]) -> None:
        events = []
        for run in runs:
            wf = WorkflowBuilder(name=run.name, namespace=run.namespace, uid=run.id)
            wf.obj["metadata"]["creationTimestamp"] = iso(run.created)
            wf.obj["spec"]["arguments"]["parameters"] = [{"name": "lr", "value": run.lr}]
            status = wf.obj["status"]
            status["startedAt"] = iso(run.started)
            status["phase"] = "Running" if run.finished is None else "Succeeded"
            if run.finished is not None:
                status["finishedAt"] = iso(run.finished)
            if self.s3_objects is not None:
                key = f"metrics/{run.id}.tgz"
                metrics = {"metrics": [{"name": "score", "numberValue": run.score}]}
                await self.s3_objects.put("mlpipeline", key, argo_tgz("metrics.json", json.dumps(metrics).encode()))
                wf.node("train", "Succeeded", outputs={"artifacts": [{
                    "name": "mlpipeline-metrics", "path": "/tmp/mlpipeline-metrics.json",
                    "s3": {"bucket": "mlpipeline", "key": key, "endpoint": "minio-service.kubeflow:9000", "insecure": True},
                }]})  # fmt: skip
            events.append(wf.event("ADDED"))
        await ingest(self.pool, self.settings, events)
        if self.s3_objects is not None:
            await index_everything(self.pool, self.settings)
        self.runs.update((run.id, run) for run in runs)


async def get_json(api, params: list[tuple[str, str]]) -> dict:
    async with api.get("/api/v1/runs", params=params) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body


async def page_while_runs_arrive(api, store: Store, sort: str, params: list[tuple[str, str]], *, descending: bool) -> list[str]:
    """Ids listed page by page; after each of the first pages, runs arrive around its last run."""
    serials = itertools.count(1)
    listed: list[str] = []
    token = None
    for page in range(MAX_PAGES):
        query = [*params, ("sort", f"{'-' if descending else ''}{sort}"), ("limit", str(LIMIT))]
        body = await get_json(api, query + ([("page_token", token)] if token else []))
        listed += [run["id"] for run in body["runs"]]
        token = body["next_page_token"]
        if token is None:
            return listed
        if page < GAPS_WITH_ARRIVALS:
            await store.record(arrivals_around(store.runs[listed[-1]], sort, serials))
    pytest.fail(f"the listing did not end within {MAX_PAGES} pages")


async def check_pages_stay_stable(api, store: Store, sort: str, filter_name: str, descending: bool) -> None:
    params, selects = FILTERS[filter_name]
    existing = listing_order([run for run in SEEDS if selects(run)], sort, descending=descending)

    listed = await page_while_runs_arrive(api, store, sort, params, descending=descending)

    assert len(listed) == len(set(listed)), "no run is listed twice"
    assert [i for i in listed if i in existing] == existing, "every run that existed is listed once, in order"
    in_place = listing_order((store.runs[i] for i in listed), sort, descending=descending)
    assert listed == in_place, "every run listed, arrived or not, is in its place in the listing's order"
    arrived = [i for i in listed if i not in existing]
    assert arrived and len(arrived) < len(store.runs) - len(SEEDS), "runs arrived both ahead of and behind the cursor"
    assert all(selects(store.runs[i]) for i in listed), "the filter still holds on every page"


DIRECTIONS = pytest.mark.parametrize("descending", [True, False], ids=["descending", "ascending"])
LISTINGS = pytest.mark.parametrize("filter_name", list(FILTERS))


@pytest.fixture
async def column_listing(pool, settings):
    store = Store(pool, settings)
    await store.record(SEEDS)
    async with serve(settings=settings, pool=pool) as api:
        yield api, store


@pytest.fixture
async def metric_listing(pool, s3, s3_objects, tmp_path):
    settings = s3_settings(s3, tmp_path)
    store = Store(pool, settings, s3_objects)
    await store.record(SEEDS)
    async with serve(settings=settings, pool=pool) as api:
        yield api, store


@pytest.mark.parametrize("sort", COLUMN_SORTS)
@DIRECTIONS
@LISTINGS
async def test_pages_by_a_run_column_neither_skip_nor_repeat_runs_while_new_runs_arrive(column_listing, sort, descending, filter_name):
    api, store = column_listing
    await check_pages_stay_stable(api, store, sort, filter_name, descending)


@DIRECTIONS
@LISTINGS
async def test_pages_by_a_metric_neither_skip_nor_repeat_runs_while_new_runs_arrive(metric_listing, descending, filter_name):
    api, store = metric_listing
    await check_pages_stay_stable(api, store, METRIC_SORT, filter_name, descending)
