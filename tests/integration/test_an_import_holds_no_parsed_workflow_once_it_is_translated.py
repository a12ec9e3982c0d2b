"""An import keeps each row until its page is checkpointed, but not the row's parsed workflow: once the
workflow is translated its JSON is dropped (what a page holds while it is written is its states)."""

from __future__ import annotations

import asyncpg

from runledger.backfill.importing import ImportRow
from tests.support.importing import fixture_workflows, import_source

WORKFLOWS = fixture_workflows()


class Rows:
    """The fixture workflows as an import source, remembering the rows it was told were persisted."""

    kind, scope = "test", "fixture workflows"

    def __init__(self) -> None:
        self.persisted_rows: list[ImportRow] = []

    async def read(self, *, after: str | None, limit: int) -> list[ImportRow]:
        start = 0 if after is None else int(after) + 1
        return [ImportRow(key=str(i), ref=f"row {i}", workflow=WORKFLOWS[i])
                for i in range(start, min(start + limit, len(WORKFLOWS)))]  # fmt: skip

    async def count(self, *, after: str | None) -> int:
        return len(WORKFLOWS) - (0 if after is None else int(after) + 1)

    async def persisted(self, rows: list[ImportRow], *, pool: asyncpg.Pool) -> None:
        self.persisted_rows += rows


async def test_every_row_reaches_its_checkpoint_without_its_parsed_workflow(pool, settings) -> None:
    source = Rows()
    report, _ = await import_source(pool, settings, source, page_size=3)
    assert report.imported == len(WORKFLOWS)
    assert [row.key for row in source.persisted_rows] == [str(i) for i in range(len(WORKFLOWS))]
    assert [row.workflow for row in source.persisted_rows] == [None] * len(WORKFLOWS)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM runs") == len({wf["metadata"]["uid"] for wf in WORKFLOWS})
