"""Keeping the pipeline analytics rollups current, in the transaction that changes a run.

A run's contribution to the rollups (``stats_contribution`` in migration 0020) is worked out from
its stored rows, before and after a writer changes them; the difference is added
(``stats_apply``). So a run changing phase moves between the columns of its rows, a replay that
changes nothing adds nothing, and no run is counted twice. The runs are locked for the rest of
the transaction first (an advisory lock per run id), so a pod and a workflow of the same run written
by two transactions cannot both take the same "before".

Chosen over a job recomputing dirty (pipeline, hour) buckets: the cost is proportional to the
runs a batch changes, rollups are never behind what the API reads, and there is nothing to
schedule, supervise or catch up after an outage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import asyncpg

from runledger.store.sql_blocks import q


@asynccontextmanager
async def rollups_kept(conn: asyncpg.Connection, run_ids: Collection[str]) -> AsyncIterator[None]:
    """Around a change to the rows of `run_ids`, inside the caller's transaction: the rollups follow it."""
    ids = sorted(set(run_ids))
    if not ids:
        yield
        return
    await conn.execute(q("lock_runs_for_stats"), ids)
    before = await conn.fetch(q("stats_contribution"), ids)
    yield
    await conn.execute(q("stats_apply"), ids, [tuple(r) for r in before])
