"""With Argo's database configured, a workflow whose nodes Argo offloaded is recorded like any other.

Argo's database is real: its schema made by Argo's own migration, on Postgres and on MariaDB; the
offload row written as Argo's repository writes it.
"""

from __future__ import annotations

import asyncpg
import pytest

from runledger import service
from runledger.agent.ingest import Ingestor
from runledger.core.run_state import WatchEvent
from runledger.core.settings import Settings
from runledger.service import build_ingestor
from runledger.store import connection as db
from tests.support.argo_database import as_stored, new_argo_database, offloaded
from tests.support.ingesting import dump, ingest
from tests.support.postgres import create_database
from tests.support.real_objects import FIXTURES
from tests.support.waiting import eventually
from tests.support.workflows import load

STEP_TABLES = ("steps", "step_edges", "parameters", "artifact_refs")
WORKFLOW = as_stored(load(FIXTURES / "argo" / "util_test__subdag-iterate.yaml"))


@pytest.fixture(params=["postgres", "mysql"])
async def argo(request: pytest.FixtureRequest, pg_server_uri: str):
    if request.param == "mysql":
        return await new_argo_database("mysql", mariadb=request.getfixturevalue("mariadb"))
    return await new_argo_database("postgres", pg_server_uri=pg_server_uri)


async def step_rows(conn: asyncpg.Connection) -> dict[str, list[tuple]]:
    rows = await dump(conn)
    return {t: rows[t] for t in STEP_TABLES}


async def ingest_with_argo_database(pool, settings: Settings, url: str, events: list[dict]) -> Ingestor:
    async with service.argo_node_status(settings.argo, url=url) as node_status:
        async with build_ingestor(pool=pool, settings=settings, node_status=node_status) as ingestor:
            for event in events:
                await ingestor.submit(WatchEvent.model_validate(event))
            await ingestor.drain_all()
    return ingestor


@pytest.mark.parametrize("compressed", [False, True], ids=["json", "compressed"])
async def test_an_offloaded_workflow_gets_the_steps_edges_parameters_and_artifacts_of_its_nodes(
    argo, compressed, pool, settings, pg_server_uri, template_database
) -> None:
    stripped, nodes = offloaded(WORKFLOW)
    await argo.offload(WORKFLOW["metadata"]["uid"], WORKFLOW["metadata"]["namespace"], nodes, compressed=compressed)

    ingestor = await ingest_with_argo_database(pool, settings, argo.url, [{"type": "MODIFIED", "object": stripped}])

    assert not ingestor.stats.errors
    async with pool.acquire() as conn:
        offloaded_rows = await step_rows(conn)
        run = await conn.fetchrow("SELECT nodes_offloaded, step_counts FROM runs")
    # The same workflow with its nodes in the object, recorded in a database of its own.
    baseline_dsn = await create_database(pg_server_uri, template=template_database)
    baseline_pool = await db.create_pool(baseline_dsn, database=settings.database)
    try:
        await ingest(baseline_pool, settings, [{"type": "MODIFIED", "object": WORKFLOW}])
        async with baseline_pool.acquire() as conn:
            expected = await step_rows(conn)
            expected_counts = await conn.fetchval("SELECT step_counts FROM runs")
    finally:
        await baseline_pool.close()
    assert offloaded_rows == expected
    assert len(offloaded_rows["steps"]) == len(nodes) and offloaded_rows["parameters"] and offloaded_rows["artifact_refs"]
    assert run["nodes_offloaded"] is False
    assert run["step_counts"] == expected_counts


async def test_a_version_not_yet_in_argos_database_is_retried_until_it_appears(argo, pool, settings) -> None:
    stripped, nodes = offloaded(WORKFLOW)
    async with service.argo_node_status(settings.argo, url=argo.url) as node_status:
        async with build_ingestor(pool=pool, settings=settings, node_status=node_status) as ingestor:
            await ingestor.submit(WatchEvent(type="MODIFIED", object=stripped))
            await ingestor.drain()
            # While it waits, a watch checkpoint cannot pass it.
            assert ingestor.persisted_below() <= ingestor.submitted()
            async with pool.acquire() as conn:
                # Not recorded without its steps while it waits.
                assert await conn.fetchval("SELECT count(*) FROM runs") == 0
                await argo.offload(WORKFLOW["metadata"]["uid"], WORKFLOW["metadata"]["namespace"], nodes)

                async def recorded() -> bool:
                    return await conn.fetchval("SELECT count(*) FROM steps") == len(nodes)

                await eventually(recorded, timeout=30)
    assert not ingestor.stats.errors


async def test_a_version_that_never_appears_is_dropped_and_counted_never_recorded_empty(
    argo, pool, settings
) -> None:
    settings = settings.updated(argo={"database_offload_wait_seconds": 0.5})
    stripped, _ = offloaded(WORKFLOW)
    ingestor = await ingest_with_argo_database(pool, settings, argo.url, [{"type": "MODIFIED", "object": stripped}])
    assert ingestor.stats.errors == {"offload_missing": 1}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM runs") == 0


async def test_an_unreadable_offload_row_is_dropped_and_counted_at_once(argo, pool, settings) -> None:
    stripped, _ = offloaded(WORKFLOW)
    version = await argo.offload(WORKFLOW["metadata"]["uid"], WORKFLOW["metadata"]["namespace"], ["not", "a", "map"])
    stripped["status"]["offloadNodeStatusVersion"] = version
    ingestor = await ingest_with_argo_database(pool, settings, argo.url, [{"type": "MODIFIED", "object": stripped}])
    assert ingestor.stats.errors == {"offload_unreadable": 1}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM runs") == 0


async def test_without_argos_database_an_offloaded_workflow_is_recorded_flagged_and_without_steps(
    pool, settings
) -> None:
    stripped, _ = offloaded(WORKFLOW)
    await ingest(pool, settings, [{"type": "MODIFIED", "object": stripped}])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT nodes_offloaded FROM runs") is True
        assert await conn.fetchval("SELECT count(*) FROM steps") == 0
