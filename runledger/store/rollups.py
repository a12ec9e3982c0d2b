"""Keeping the pipeline analytics rollups current, in the transaction that changes a run.

The rollups hold finished runs only (Succeeded, Failed, Error): most writes are to runs in flight (a step starts
or ends), and a figure kept for one in a row it shares with thousands of runs would be undone by its
next write. A run's contribution (``stats_contribution``, migrations 0020 and 0021: nothing while it is
unfinished) is worked out from its stored rows before and after a writer changes them; the difference
is added (``stats_apply``). So a run finishing adds its rows once, a finished run's late pod or re-write
moves its figures, a replay that changes nothing adds nothing, and no run is counted twice. The runs
in flight have rows of their own instead (``stats_live``, migration 0026), so a read never works them out
itself: the caller names the steps its change may touch (``steps``), their figures are taken before and
after (``stats_live_facts``), and the difference is added to the run's rows, so a write costs what it
changed, not what its run holds. The runs
are locked for the rest of the transaction first (an advisory lock per run id), so a pod and a
workflow of the same run written by two transactions cannot both take the same "before", nor leave
rows worked out from a state without the other's change.

``stats_apply`` (migrations 0024, 0026) is the one statement that keeps the rollups and the rows of the
runs in flight, for one run or thousands: any writer of runs (a bulk load too) takes ``stats_before``
before its change and hands it to ``stats_apply`` after, in the same transaction, as ``rollups_kept`` does.

Chosen over a job recomputing dirty (pipeline, day) buckets: the cost is proportional to the runs
a batch writes, rollups are never behind what the API reads, and there is nothing to schedule,
supervise or catch up after an outage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import asyncpg

from runledger.store.sql_blocks import q


async def lock_runs(conn: asyncpg.Connection, run_ids: Collection[str]) -> None:
    """Take, in the caller's transaction, the locks rollups_kept takes for these runs, all at once and in id
    order. A transaction that writes pods and workflows calls rollups_kept once for each; taken piecemeal, two
    such transactions could each hold a run the other waits for. The locks are re-entrant, so rollups_kept's
    own then wait for nothing."""
    if ids := sorted(set(run_ids)):
        await conn.execute(q("lock_runs_for_stats"), ids)


@asynccontextmanager
async def rollups_kept(
    conn: asyncpg.Connection, run_ids: Collection[str], *, steps: Collection[tuple[str, str]] | None
) -> AsyncIterator[None]:
    """Around a change to the rows of `run_ids`, inside the caller's transaction: the rollups, and the rows
    of the runs in flight, follow it.

    `steps`: the (run id, step id) of every step whose row, pod or child edges the change may write (None:
    any step of the runs). Of a run in flight, only these are worked out, before and after.
    """
    ids = sorted(set(run_ids))
    if not ids:
        yield
        return
    step_runs, step_ids = (None, None) if steps is None else _columns(steps)
    # Locked even when no run looks finished: a writer finishing one of them may hold it, and its
    # "after" must see this change, or this change must see it finished.
    await conn.execute(q("lock_runs_for_stats"), ids)
    before = await conn.fetchrow(q("stats_before"), ids, step_runs, step_ids)
    yield
    await conn.execute(q("stats_apply"), ids, step_runs, step_ids, [tuple(r) for r in before["rollups"]],
                       [tuple(r) for r in before["live"]])  # fmt: skip


def _columns(steps: Collection[tuple[str, str]]) -> tuple[list[str], list[str]]:
    pairs = sorted(set(steps))
    return [run_id for run_id, _ in pairs], [step_id for _, step_id in pairs]
