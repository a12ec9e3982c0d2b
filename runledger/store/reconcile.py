"""Reconciliation after a full list: runs the cluster no longer has were deleted unseen.

Only runs inside the list's scope are considered (its namespaces, and its label selector when that
is a set of equalities, which maps to jsonb containment); a selector that cannot be expressed that
way disables reconciliation rather than risk marking live runs deleted.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from runledger.core.shards import Shard
from runledger.store.sql_blocks import q


async def database_now(conn: asyncpg.Connection) -> datetime:
    return await conn.fetchval(q("database_now"))


async def mark_unlisted_runs_deleted(
    conn: asyncpg.Connection,
    *,
    listed_run_ids: list[str],
    since: datetime,
    namespaces: list[str] | None,
    labels: dict[str, str] | None,
    shard: Shard | None = None,
) -> list[str]:
    index, count = (shard.index, shard.count) if shard else (None, None)
    rows = await conn.fetch(q("mark_unlisted_runs_deleted"), listed_run_ids, since, namespaces, labels, count, index)
    return [r["id"] for r in rows]


def selector_as_labels(selector: str | None) -> dict[str, str] | None | bool:
    """{k: v} for an equality-only selector, None for no selector, False if not expressible."""
    if not selector:
        return None
    labels: dict[str, str] = {}
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term or " in " in f" {term} " or "notin" in term or "(" in term or term.startswith("!"):
            return False
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if not sep:
            return False  # existence terms need jsonb ?; rare enough to skip reconciliation
        labels[key.strip()] = value.strip()
    return labels
