"""What `runledger import kfp` keeps of a run (display name, experiment, pipeline, storage state, a missing
manifest) is read back: a `kfp` object on the run in /api/v1/runs, KFP's own fields in the v1 and v2 reads,
and the client's models and `runledger runs get`."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import pytest

from runledger.backfill.kfp_database import KfpRuns
from runledger.agent.source_databases import SourceDatabase
from runledger.client import RunledgerClient
from runledger.client.models import RunDetail
from tests.support.argo_database import as_stored
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.importing import import_source
from tests.support.ingesting import ingest
from tests.support.kfp_database import experiment_row, new_kfp_database, run_row
from tests.support.processes import runledger
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

MANIFEST = as_stored(load(sorted((FIXTURES / "kfp").glob("*-runtime.json"))[0]))
UID = MANIFEST["metadata"]["uid"]
ARCHIVED = "00000000-0000-4000-8000-000000000001"
NO_MANIFEST = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
async def api(pool, settings, pg_server_uri):
    kfp = await new_kfp_database("postgres", pg_server_uri=pg_server_uri)
    await kfp.insert("experiments", [experiment_row("exp-1", "nightly training")])
    await kfp.insert("run_details", [
        run_row(MANIFEST, uuid=ARCHIVED, display_name="my first try", experiment="exp-1", pipeline_name="trainer",
                storage_state="ARCHIVED"),
        run_row(None, uuid=NO_MANIFEST, display_name="lost", experiment="exp-1", state="FAILED"),
    ])  # fmt: skip
    async with SourceDatabase(kfp.url) as source:
        await import_source(pool, settings, KfpRuns(source=source))
    await ingest(pool, settings, [WorkflowBuilder(name="watched").phase("Succeeded").event("ADDED")])
    async with serve(settings=settings, pool=pool) as session:
        yield session


async def get_json(api, path: str) -> dict:
    async with api.get(path) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_a_run_imported_from_kfp_carries_a_kfp_object_and_a_watched_one_none(api):
    run = await get_json(api, f"/api/v1/runs/{UID}")
    assert run["kfp"] == {"kfp_run_id": ARCHIVED, "display_name": "my first try", "experiment_id": "exp-1",
                          "experiment_name": "nightly training", "pipeline_id": run["kfp"]["pipeline_id"],
                          "pipeline_name": "trainer", "storage_state": "ARCHIVED", "has_manifest": True}  # fmt: skip
    listed = {r["name"]: r for r in (await get_json(api, "/api/v1/runs?limit=10"))["runs"]}
    assert listed[run["name"]]["kfp"] == run["kfp"] and listed["watched"]["kfp"] is None
    lost = await get_json(api, f"/api/v1/runs/{NO_MANIFEST}")
    assert lost["kfp"]["has_manifest"] is False and lost["kfp"]["display_name"] == "lost"


async def test_kfp_reads_report_the_stored_display_name_experiment_and_storage_state(api):
    kfp_id = (await get_json(api, f"/api/v1/runs/{UID}"))["kfp_run_id"]
    v2 = await get_json(api, f"/apis/v2beta1/runs/{kfp_id}")
    assert (v2["display_name"], v2["experiment_id"], v2["storage_state"]) == ("my first try", "exp-1", "ARCHIVED")
    v1 = (await get_json(api, f"/apis/v1beta1/runs/{kfp_id}"))["run"]
    assert (v1["name"], v1["storage_state"]) == ("my first try", "STORAGESTATE_ARCHIVED")
    assert {"key": {"type": "EXPERIMENT", "id": "exp-1"}, "name": "nightly training", "relationship": "OWNER"} in v1[
        "resource_references"]  # fmt: skip
    watched = await get_json(api, "/apis/v2beta1/runs/kfp-watched")
    assert (watched["display_name"], watched["storage_state"]) == ("watched", "AVAILABLE")
    assert "experiment_id" not in watched
    archived = {"predicates": [{"key": "storage_state", "operation": "EQUALS", "string_value": "ARCHIVED"}]}
    listed = await get_json(api, f"/apis/v2beta1/runs?filter={quote(json.dumps(archived))}")
    assert [r["run_id"] for r in listed["runs"]] == [kfp_id]


async def test_the_client_and_runs_get_show_what_kfp_said(api):
    server = str(api._base_url).rstrip("/")
    def read() -> RunDetail:
        with RunledgerClient(server) as client:
            return client.get_run(UID)

    run = await asyncio.to_thread(read)  # a blocking client, and the server is served by this loop
    assert run.kfp is not None and (run.kfp.display_name, run.kfp.experiment_name) == ("my first try", "nightly training")
    code, out, err = await runledger("runs", "get", UID, env={"RUNLEDGER_SERVER": server, "KUBECONFIG": "/nonexistent"})
    assert code == 0, err
    assert "KFP name:    my first try" in out and "Experiment:  nightly training" in out and "KFP storage: ARCHIVED" in out
