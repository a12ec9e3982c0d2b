"""GET /api/v1/runs writes its page without a model per run (run_listing.run_documents and orjson);
what it writes must be what RunOut would, for every real fixture once stored and for the stored
oddities a model smooths over: ±infinity times, a failed step with fields missing, a deleted run, and a
run with what KFP's database said of it."""

from __future__ import annotations

import orjson

from runledger.api.responses import document_response
from runledger.store import run_listing
from runledger.store.read_models import RunPage
from runledger.store.kfp_run_details import KfpRunDetails, write_kfp_run_details
from runledger.store.run_history import run_columns, run_from_row
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


async def test_every_run_reads_the_same_through_the_listing_as_through_its_model(pool, settings, conn):
    await ingest(pool, settings, [{"type": "ADDED", "object": load(p)} for p in fixture_files()])
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM runs ORDER BY id")]
    assert len(ids) >= 4
    await conn.execute("UPDATE runs SET started_at = '-infinity', finished_at = 'infinity' WHERE id = $1", ids[0])
    await conn.execute(
        "UPDATE runs SET failed_step = $2::jsonb, deleted_at = '2024-02-03T04:05:06.5+00' WHERE id = $1",
        ids[1], {"id": "n-1", "name": "train", "failure": "child 'train' failed"},
    )  # fmt: skip
    await conn.execute("UPDATE runs SET failed_step = $2::jsonb, started_at = '2024-01-01T00:00:00+00',"
                       " finished_at = '2024-01-01T00:00:00.00001+00' WHERE id = $1", ids[2],
                       {"id": "n-2", "name": "a", "template": "t", "message": "exit 1", "failure": None})  # fmt: skip
    await conn.execute("UPDATE runs SET failed_step = '{}'::jsonb, labels = $2::jsonb WHERE id = $1", ids[3],
                       {"é": "ünïcode \"quoted\"\n", "k": ""})  # fmt: skip
    await write_kfp_run_details(conn, [KfpRunDetails(
        run_id=ids[0], kfp_run_id="kfp-1", display_name="ünïcode \"name\"", experiment_id="e", experiment_name=None,
        pipeline_id=None, pipeline_name="p", storage_state="ARCHIVED", has_manifest=False,
    )])  # fmt: skip

    rows, token, total = await run_listing.list_runs(conn, run_listing.RunListQuery(limit=500, count=True))
    listed = orjson.loads(document_response({"runs": run_listing.run_documents(rows), "next_page_token": token,
                                             "total": total}).body)  # fmt: skip

    model_rows = await conn.fetch(f"SELECT {run_columns(aliased=True)} FROM runs r ORDER BY r.sort_at DESC, r.id DESC")
    modelled = orjson.loads(RunPage(runs=[run_from_row(r) for r in model_rows], next_page_token=None,
                                    total=len(model_rows)).model_dump_json())  # fmt: skip
    assert listed == modelled
    assert [list(run) for run in listed["runs"]] == [list(run) for run in modelled["runs"]]  # the fields' order too
