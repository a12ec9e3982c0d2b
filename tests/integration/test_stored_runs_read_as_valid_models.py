"""The API builds run models from rows without validating them again; what it builds must be exactly
what validation would build, for every real fixture once stored (a column whose type drifted from
its field's, or a pydantic upgrade that laid instances out differently, fails here)."""

from __future__ import annotations

from runledger.store.read_models import RunOut, RunPage
from runledger.store.kfp_run_details import KfpRunDetails, write_kfp_run_details
from runledger.store.run_history import run_columns, run_from_row
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


async def test_every_stored_fixture_reads_as_its_validated_model(pool, settings, conn):
    await ingest(pool, settings, [{"type": "ADDED", "object": load(p)} for p in fixture_files()])
    # One run imported from KFP as well, so its details are read too.
    first = await conn.fetchval("SELECT min(id) FROM runs")
    await write_kfp_run_details(conn, [KfpRunDetails(
        run_id=first, kfp_run_id="kfp-1", display_name="a run", experiment_id="e", experiment_name="nightly",
        pipeline_id=None, pipeline_name="p", storage_state="ARCHIVED", has_manifest=True,
    )])  # fmt: skip
    rows = await conn.fetch(f"SELECT {run_columns(aliased=True)} FROM runs r ORDER BY r.id")
    assert rows[0]["kfp"] is not None
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
