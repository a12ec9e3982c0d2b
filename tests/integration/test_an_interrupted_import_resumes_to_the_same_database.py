"""An import cut off mid-way and run again ends with the same database as one never interrupted.

The cut is a source failing between pages, as a dropped connection would; the second run resumes
after the last page the first one persisted (its checkpoint), not from the start.
"""

from __future__ import annotations

import pytest

from runledger.backfill.argo_archive import ArgoArchive
from runledger.backfill.kfp_database import KfpRuns
from runledger.agent.source_databases import SourceDatabase, SourceError
from runledger.store import connection as db
from tests.support.argo_database import new_argo_database
from tests.support.importing import FailsAfter, content, fixture_workflows, import_source
from tests.support.kfp_database import experiment_row, new_kfp_database, run_row
from tests.support.postgres import create_database

WORKFLOWS = fixture_workflows()
PAGE = 4


async def archive_source(dialect: str, request: pytest.FixtureRequest, pg_server_uri: str):
    mariadb = request.getfixturevalue("mariadb") if dialect == "mysql" else None
    argo = await new_argo_database(dialect, pg_server_uri=pg_server_uri, mariadb=mariadb)
    await argo.archive(WORKFLOWS)
    return argo.url, ArgoArchive


async def kfp_source(dialect: str, request: pytest.FixtureRequest, pg_server_uri: str):
    mariadb = request.getfixturevalue("mariadb") if dialect == "mysql" else None
    kfp = await new_kfp_database(dialect, pg_server_uri=pg_server_uri, mariadb=mariadb)
    await kfp.insert("experiments", [experiment_row("e", "experiment")])
    rows = [run_row(wf, uuid=f"00000000-0000-4000-8000-{i:012d}", display_name=wf["metadata"]["name"], experiment="e")
            for i, wf in enumerate(WORKFLOWS)]  # fmt: skip
    await kfp.insert("run_details", rows)
    return kfp.url, KfpRuns


@pytest.mark.parametrize(
    ("make_source", "dialect"),
    [(archive_source, "postgres"), (archive_source, "mysql"), (kfp_source, "mysql")],
    ids=["argo-archive-postgres", "argo-archive-mysql", "kfp-mysql"],
)
async def test_an_interrupted_import_resumed_gives_the_same_database_as_an_uninterrupted_one(
    make_source, dialect, request, pool, settings, pg_server_uri, template_database
) -> None:
    url, kind = await make_source(dialect, request, pg_server_uri)
    async with SourceDatabase(url) as source:
        with pytest.raises(SourceError):
            await import_source(pool, settings, FailsAfter(kind(source=source), pages=2), page_size=PAGE)
        async with pool.acquire() as conn:
            cut = await conn.fetchval("SELECT count(*) FROM runs")
        assert 0 < cut < len(WORKFLOWS)
        resumed, _ = await import_source(pool, settings, kind(source=source), page_size=PAGE)
        assert resumed.resumed_after is not None
        assert resumed.rows == len(WORKFLOWS) - 2 * PAGE  # the pages persisted before the cut are not read again

        whole_pool = await db.create_pool(await create_database(pg_server_uri, template=template_database), database=settings.database)
        try:
            await import_source(whole_pool, settings, kind(source=source), page_size=PAGE)
            async with whole_pool.acquire() as conn:
                uninterrupted = await content(conn)
        finally:
            await whole_pool.close()
    async with pool.acquire() as conn:
        assert await content(conn) == uninterrupted
