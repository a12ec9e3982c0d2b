"""The OpenLineage outbox: what the sender reads, and the stored facts an event is rendered from.

The writer queues a row per transition in the transaction that stores it (``insert_transitions_and_outbox``);
this module is the rest of the outbox's life: backfilling history, taking what is unsent in transition id
order, marking it sent or failed, and reading, for a batch of transitions, the run, step, parameters,
S3 objects and KFP metrics their events describe (one query per kind for the whole batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from runledger.store.sql_blocks import q

# One sender at a time (any replica, any process): held for a round, released after it.
SENDER_LOCK = 0x72756E6C65646F6C  # "runledol" in ASCII; the transitions lock is "runledtr"


@dataclass(frozen=True)
class Dataset:
    direction: str  # input | output
    name: str  # the artifact's name in the step
    bucket: str
    key: str
    size: int | None
    etag: str | None


@dataclass
class LineageFacts:
    """What one transition's event says: the phase change, its run and step as stored now."""

    transition_id: int
    run_id: str
    step_id: str  # '' for the run itself
    from_phase: str | None
    to_phase: str
    at: datetime
    namespace: str
    run_name: str
    uid: str | None
    kfp_run_id: str | None
    pipeline_name: str | None
    scheduled_workflow: str | None
    labels: dict[str, str]
    run_parameters: dict[str, str | None]
    run_message: str | None
    shutdown: str | None
    step_name: str | None = None
    display_name: str | None = None
    step_type: str | None = None
    template: str | None = None
    step_message: str | None = None
    exit_code: int | None = None
    parameters: dict[str, dict[str, str | None]] = field(default_factory=dict)  # direction -> name -> value
    datasets: list[Dataset] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


async def backfill(conn: asyncpg.Connection, *, since: datetime | None) -> int:
    """Queue every stored transition (at or after `since`) not queued yet; returns how many were added."""
    return int((await conn.execute(q("openlineage_backfill"), since)).rsplit(" ", 1)[-1])


async def unsent(conn: asyncpg.Connection, *, limit: int) -> list[int]:
    return [r["transition_id"] for r in await conn.fetch(q("openlineage_unsent"), limit)]


async def backlog(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(q("openlineage_backlog"))


async def mark_sent(conn: asyncpg.Connection, transition_ids: list[int]) -> None:
    if transition_ids:
        await conn.execute(q("openlineage_mark_sent"), transition_ids)


async def mark_failed(conn: asyncpg.Connection, failures: list[tuple[int, str, bool]]) -> None:
    """(transition id, error, refused for good) each."""
    if failures:
        ids, errors, refused = zip(*failures, strict=True)
        await conn.execute(q("openlineage_mark_failed"), list(ids), list(errors), list(refused))


async def facts(conn: asyncpg.Connection, transition_ids: list[int]) -> list[LineageFacts]:
    """The facts of each transition still stored, in transition id order."""
    found = [_facts(r) for r in await conn.fetch(q("openlineage_transitions"), transition_ids)]
    steps = sorted({(f.run_id, f.step_id) for f in found if f.step_id})
    by_step = {(f.run_id, f.step_id): [] for f in found}
    for f in found:
        by_step[(f.run_id, f.step_id)].append(f)
    if steps:
        run_ids, step_ids = [s[0] for s in steps], [s[1] for s in steps]
        for r in await conn.fetch(q("openlineage_step_parameters"), run_ids, step_ids):
            for f in by_step[(r["run_id"], r["step_id"])]:
                f.parameters.setdefault(r["direction"], {})[r["name"]] = r["value"]
        for r in await conn.fetch(q("openlineage_step_datasets"), run_ids, step_ids):
            dataset = Dataset(direction=r["direction"], name=r["name"], bucket=r["s3_bucket"], key=r["s3_key"],
                              size=r["size"], etag=r["etag"])  # fmt: skip
            for f in by_step[(r["run_id"], r["step_id"])]:
                f.datasets.append(dataset)
    for r in await conn.fetch(q("openlineage_metrics"), sorted({f.run_id for f in found})):
        for key in ((r["run_id"], ""), (r["run_id"], r["step_id"])):
            for f in by_step.get(key, ()):
                f.metrics[r["name"]] = r["value"]
    return found


def _facts(r: asyncpg.Record) -> LineageFacts:
    return LineageFacts(
        transition_id=r["id"], run_id=r["run_id"], step_id=r["step_id"], from_phase=r["from_phase"],
        to_phase=r["to_phase"], at=r["at"], namespace=r["namespace"], run_name=r["run_name"], uid=r["uid"],
        kfp_run_id=r["kfp_run_id"], pipeline_name=r["pipeline_name"], scheduled_workflow=r["scheduled_workflow"],
        labels=r["labels"] or {}, run_parameters=r["run_parameters"] or {}, run_message=r["run_message"],
        shutdown=r["shutdown"], step_name=r["step_name"], display_name=r["display_name"], step_type=r["step_type"],
        template=r["template"], step_message=r["step_message"], exit_code=r["exit_code"],
    )  # fmt: skip
