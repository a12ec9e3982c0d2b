"""The keyset pager of every listing: runs, artifacts and KFP's ListRuns.

A listing is ordered by (sort key, id), or by id alone, and a page is the rows after the previous
page's last one in that order (the cursor its token holds), on an index: a page deep in the history
costs what the first does, and rows arriving meanwhile never shift or repeat rows of later pages.
Sort key expressions are never NULL (a missing finish time is -infinity), so the row comparison
of the keyset holds for every row. The statements are the keyset_* blocks of sql/queries/listing.sql.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from runledger.store.page_tokens import Cursor, KeyKind, sort_key
from runledger.store.sql_blocks import Statement, block, q, splice


@dataclass(frozen=True)
class Order:
    """A listing's order: `key` (an SQL expression of `kind`) then `id`, or `id` alone when key is None.

    `id` is the expression of the rows' `id` column (or of a join column equal to it).
    """

    key: str | None
    kind: KeyKind
    id: str
    descending: bool


@dataclass(frozen=True)
class Page:
    rows: list[asyncpg.Record]
    next: Cursor | None  # None: this is the last page


async def count(conn: asyncpg.Connection, statement: Statement, *, source: str) -> int:
    """How many rows the listing matches, over all its pages."""
    sql = q("keyset_count", source=source, joins=statement.joined(), conditions=statement.condition())
    return await conn.fetchval(sql, *statement.args)


async def fetch_page(
    conn: asyncpg.Connection,
    statement: Statement,
    *,
    columns: str,
    source: str,
    order: Order,
    after: Cursor | None,
    limit: int,
) -> Page:
    """At most `limit` rows after `after`, and the cursor of the next page when there is one."""
    direction, compare = ("DESC", "<") if order.descending else ("ASC", ">")
    if after is not None and order.key is None:
        statement.where(block("keyset_after_id"), id=order.id, compare=compare, after_id=statement.bind(after.id))
    elif after is not None:
        statement.where(
            block("keyset_after"), sort_key=order.key, id=order.id, compare=compare,
            after_key=statement.bind(after.key), after_id=statement.bind(after.id),
        )  # fmt: skip
    by_key = "{id} {direction}" if order.key is None else "{key} {direction}, {id} {direction}"
    ordering = splice(by_key, **({} if order.key is None else {"key": order.key}), id=order.id, direction=direction)
    sql = q(
        "keyset_page", columns=columns, sort_key=order.key or "NULL", source=source, joins=statement.joined(),
        conditions=statement.condition(), order=ordering, limit=statement.bind(limit + 1),
    )  # fmt: skip
    rows = await conn.fetch(sql, *statement.args)
    if len(rows) <= limit:
        return Page(rows=rows, next=None)
    last = rows[limit - 1]
    return Page(rows=rows[:limit], next=Cursor(key=sort_key(last["sort_key"]), id=last["id"]))
