"""Keeping the pipeline analytics rollups current, in the transaction that changes a run.

The rollups hold finished runs only (``FINISHED``): most writes are to runs in flight (a step starts
or ends), and a figure kept for one would be undone by its next write. A run's contribution
(``stats_contribution``, migrations 0020 and 0021: nothing while it is unfinished) is worked out
from its stored rows before and after a writer changes them; the difference is added
(``stats_apply``). So a run finishing adds its rows once, a finished run's late pod or re-write
moves its figures, a replay that changes nothing adds nothing, and no run is counted twice. The
runs are locked for the rest of the transaction first (an advisory lock per run id), so a pod and
a workflow of the same run written by two transactions cannot both take the same "before". The
read side adds the runs in flight from their own rows (``store/pipeline_stats``).

``stats_apply(ids, before)`` (migration 0024) is the one statement that keeps the rollups, for one run or
thousands: any writer of runs (a bulk load too) takes ``stats_contribution(ids)`` before its change and
hands it to ``stats_apply`` after, in the same transaction, as ``rollups_kept`` does.

Chosen over a job recomputing dirty (pipeline, day) buckets: the cost is proportional to the runs
a batch finishes or changes after they finished, rollups are never behind what the API reads, and
there is nothing to schedule, supervise or catch up after an outage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import asyncpg

from runledger.store.sql_blocks import q

# A run's phases that end it, as the SQL spells them (migration 0021): only these are in the rollups.
FINISHED = frozenset({"Succeeded", "Failed", "Error"})


def in_rollups(*, phase_before: str | None, phase_after: str) -> bool:
    """Whether a write taking a run from `phase_before` (None: not stored) to `phase_after` moves the rollups."""
    return phase_before in FINISHED or phase_after in FINISHED


@asynccontextmanager
async def rollups_kept(
    conn: asyncpg.Connection, run_ids: Collection[str], *, phases_kept: bool = False
) -> AsyncIterator[None]:
    """Around a change to the rows of `run_ids`, inside the caller's transaction: the rollups follow it.

    `phases_kept`: the change leaves every run's phase as it was (a pod observation), so a batch with no
    finished run (nothing before) has nothing to add after either.
    """
    ids = sorted(set(run_ids))
    if not ids:
        yield
        return
    # Locked even when no run looks finished: a writer finishing one of them may hold it, and its
    # "after" must see this change, or this change must see it finished.
    await conn.execute(q("lock_runs_for_stats"), ids)
    before = await conn.fetch(q("stats_contribution"), ids)  # a finished run always has its run row
    yield
    if before or not phases_kept:
        await conn.execute(q("stats_apply"), ids, [tuple(r) for r in before])
