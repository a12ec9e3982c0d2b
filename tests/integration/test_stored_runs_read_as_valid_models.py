"""The API builds run models from rows without validating them again; what it builds must be exactly
what validation would build, for every real fixture once stored (a column whose type drifted from
its field's, or a pydantic upgrade that laid instances out differently, fails here)."""

from __future__ import annotations

from runledger.store.records import RunOut, RunPage
from runledger.store.run_history import run_from_row
from runledger.store.sql_blocks import q
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


async def test_every_stored_fixture_reads_as_its_validated_model(pool, settings, conn):
    await ingest(pool, settings, [{"type": "ADDED", "object": load(p)} for p in fixture_files()])
    rows = await conn.fetch(f"SELECT {q('run_columns_r')} FROM runs r ORDER BY r.id")
    assert len(rows) == len(fixture_files())
    for row in rows:
        run = run_from_row(row)
        validated = RunOut.model_validate(run.model_dump())
        assert validated == run
        assert validated.model_dump_json() == run.model_dump_json()
        assert run.model_fields_set == validated.model_fields_set
    runs = [run_from_row(r) for r in rows]
    assert RunPage(runs=runs, next_page_token=None).model_dump_json() == RunPage.model_validate(
        {"runs": [r.model_dump() for r in runs], "next_page_token": None}
    ).model_dump_json()
