"""`import kfp` makes each run's stored Workflow a run, keeps what only KFP knows, and flags runs without one.

KFP's database is real (MariaDB, and Postgres), its tables as KFP's API server creates them, its
manifests the real KFP runtime manifests of the fixtures.
"""

from __future__ import annotations

import pytest

from runledger.backfill.argo_archive import ArgoArchive
from runledger.backfill.kfp_database import KfpRuns
from runledger.agent.source_databases import SourceDatabase
from tests.support.argo_database import as_stored, new_argo_database
from tests.support.importing import import_source
from tests.support.ingesting import ingest
from tests.support.kfp_database import experiment_row, new_kfp_database, run_row
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load

MANIFESTS = [as_stored(load(p)) for p in sorted((FIXTURES / "kfp").glob("*-runtime.json"))]
NO_MANIFEST = "00000000-0000-4000-8000-00000000dead"
BROKEN = "00000000-0000-4000-8000-00000000beef"


def kfp_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


@pytest.fixture(params=["mysql", "postgres"])
async def kfp(request: pytest.FixtureRequest, pg_server_uri: str):
    if request.param == "mysql":
        kfp = await new_kfp_database("mysql", mariadb=request.getfixturevalue("mariadb"))
    else:
        kfp = await new_kfp_database("postgres", pg_server_uri=pg_server_uri)
    await kfp.insert("experiments", [experiment_row("exp-1", "nightly training")])
    rows = [
        run_row(wf, uuid=kfp_id(i), display_name=f"run number {i}", experiment="exp-1", pipeline_name=f"pipeline-{i}",
                storage_state="ARCHIVED" if i == 0 else "AVAILABLE", v2=i % 2 == 1)
        for i, wf in enumerate(MANIFESTS)
    ]  # fmt: skip
    rows.append(run_row(None, uuid=NO_MANIFEST, display_name="lost", experiment="exp-1", state="FAILED"))
    rows.append(run_row(None, uuid=BROKEN, display_name="broken", experiment="exp-1", manifest_text="{not json"))
    await kfp.insert("run_details", rows)
    return kfp


async def test_each_stored_manifest_becomes_the_run_a_watch_records_with_kfps_details_beside_it(kfp, pool, settings) -> None:
    async with SourceDatabase(kfp.url) as source:
        report, ingestor = await import_source(pool, settings, KfpRuns(source=source), page_size=3)
    assert report.bad == {"invalid_json": 1}
    assert not ingestor.stats.errors
    async with pool.acquire() as conn:
        for i, wf in enumerate(MANIFESTS):
            uid = wf["metadata"]["uid"]
            run = await conn.fetchrow("SELECT kfp_run_id, (SELECT count(*) FROM steps WHERE run_id = $1) AS steps FROM runs WHERE id = $1", uid)
            assert run is not None, uid
            details = await conn.fetchrow("SELECT * FROM kfp_run_details WHERE run_id = $1", uid)
            assert (details["kfp_run_id"], details["display_name"], details["experiment_name"], details["pipeline_name"]) == (
                kfp_id(i), f"run number {i}", "nightly training", f"pipeline-{i}")  # fmt: skip
            assert details["storage_state"] == ("ARCHIVED" if i == 0 else "AVAILABLE")
            assert details["has_manifest"] is True
            # The Workflow's own pipeline/runid label wins; KFP's id is added where it lacks one.
            assert run["kfp_run_id"] == ((wf["metadata"].get("labels") or {}).get("pipeline/runid") or kfp_id(i))
        assert await conn.fetchval("SELECT count(*) FROM steps") > 0


async def test_a_run_without_a_manifest_is_a_run_without_steps_flagged_so(kfp, pool, settings) -> None:
    async with SourceDatabase(kfp.url) as source:
        await import_source(pool, settings, KfpRuns(source=source))
    async with pool.acquire() as conn:
        run = await conn.fetchrow("SELECT * FROM runs WHERE id = $1", NO_MANIFEST)
        assert (run["phase"], run["kfp_run_id"], run["nodes_offloaded"]) == ("Failed", NO_MANIFEST, False)
        assert await conn.fetchval("SELECT count(*) FROM steps WHERE run_id = $1", NO_MANIFEST) == 0
        assert await conn.fetchval("SELECT has_manifest FROM kfp_run_details WHERE run_id = $1", NO_MANIFEST) is False
        assert await conn.fetchval("SELECT count(*) FROM runs WHERE id = $1", BROKEN) == 0


async def test_a_run_from_kfp_from_argos_archive_and_watched_is_one_run(kfp, pool, settings, pg_server_uri) -> None:
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    await argo.archive(MANIFESTS)
    async with SourceDatabase(kfp.url) as source:
        await import_source(pool, settings, KfpRuns(source=source))
    async with SourceDatabase(argo.url) as source:
        await import_source(pool, settings, ArgoArchive(source=source))
    await ingest(pool, settings, [{"type": "MODIFIED", "object": wf} for wf in MANIFESTS])
    async with pool.acquire() as conn:
        # Every manifest once, and the run without one: the broken row is not a run.
        assert await conn.fetchval("SELECT count(*) FROM runs") == len(MANIFESTS) + 1
        assert await conn.fetchval("SELECT count(*) FROM kfp_run_details") == len(MANIFESTS) + 1
