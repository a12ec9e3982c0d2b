"""NUL characters in a workflow's names, parameters and messages (and a pod's node name) are removed and
counted whichever source read the object: the watch (its list and its event lines), a replay file (JSON
lines, pretty-printed JSON, YAML), an import from Argo's archive, and nodes Argo offloaded to its database
under an object whose own text held none. Each source tells translation whether the text it decoded held
a \\u0000 escape; none may say "no" of one that did, or the NUL would reach Postgres."""

from __future__ import annotations

import asyncpg
import orjson
import pytest
import yaml

from runledger import service
from runledger.agent.source_databases import SourceDatabase
from runledger.agent.translate import translate_workflow
from runledger.backfill.argo_archive import ArgoArchive
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.agent import agent_settings, running_agent, settled
from tests.support.argo_database import new_argo_database, offloaded
from tests.support.importing import import_source
from tests.support.ingesting import replay_command
from tests.support.kube_double import KubeDouble
from tests.support.nul_objects import POD_NODE, pod_with_nul, workflow_with_nul
from tests.support.waiting import eventually


async def stored(conn: asyncpg.Connection) -> dict:
    """What the NULs were in, as stored."""
    step = await conn.fetchrow("SELECT name, message FROM steps WHERE id = $1", POD_NODE)
    return {
        "labels": orjson.loads(await conn.fetchval("SELECT labels::text FROM runs")),
        "step": (step["name"], step["message"]),
        "parameters": sorted(
            tuple(r)
            for r in await conn.fetch(
                "SELECT name, value FROM parameters WHERE step_id = $1 AND direction = 'output'", POD_NODE
            )
        ),
    }


def expected(obj: dict) -> dict:
    """What today's search for NULs in the decoded object makes of `obj`."""
    state = translate_workflow(obj)
    step = next(s for s in state.steps if s.id == POD_NODE)
    return {
        "labels": state.run.labels,
        "step": (step.name, step.message),
        "parameters": sorted((p.name, p.value) for p in state.parameters if p.step_id == POD_NODE and p.direction == "output"),
    }


def test_the_expected_values_hold_no_nul_and_keep_the_rest():
    want = expected(workflow_with_nul())
    assert want["step"][1] == "No more retries left" and ("p", "v") in want["parameters"]
    assert want["labels"]["team"] == "ml" and "\x00" not in repr(want)


async def test_the_watch_list_and_its_event_lines_remove_and_count_nuls(pool, conn, settings):
    async with KubeDouble() as double:
        double.create("workflows", workflow_with_nul())  # read by the list
        async with running_agent(pool, double, agent_settings(settings)) as running:
            await settled(running, double)
            assert await stored(conn) == expected(workflow_with_nul())
            modified = workflow_with_nul(message="retried\x00 again")
            double.update("workflows", modified)  # read from a watch line
            double.create("pods", pod_with_nul())

            async def written() -> bool:
                return running.ingestor.stats.pods_written == 1 and (await stored(conn))["step"][1] == "retried again"

            await eventually(written)
            assert await stored(conn) == expected(modified)
            assert await conn.fetchval("SELECT host_node FROM step_pods") == "node1"
            assert running.ingestor.stats.warnings["nul"] == 3 and not running.ingestor.stats.errors


@pytest.mark.parametrize("form", ["jsonl", "pretty-json", "yaml"])
async def test_a_replayed_file_removes_and_counts_nuls(form, dsn, conn, settings, tmp_path):
    event = {"type": "ADDED", "object": workflow_with_nul()}
    path = tmp_path / f"events.{'yaml' if form == 'yaml' else 'json'}"
    if form == "jsonl":
        path.write_bytes(orjson.dumps(event) + b"\n")
    elif form == "pretty-json":
        path.write_bytes(orjson.dumps(event, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        path.write_text(yaml.safe_dump(event))
    code, counts = await replay_command(settings.updated(database={"url": dsn}), [path])
    assert code == 0, counts
    assert await stored(conn) == expected(workflow_with_nul())


async def test_an_import_from_argos_archive_removes_and_counts_nuls(pool, conn, settings, pg_server_uri):
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    workflow = workflow_with_nul()
    workflow["metadata"]["labels"].pop("team\x00")  # Argo's label rows are text: the workflow's JSON holds the NULs
    await argo.archive([workflow])
    async with SourceDatabase(argo.url) as source:
        report, ingestor = await import_source(pool, settings, ArgoArchive(source=source))
    assert report.imported == 1 and ingestor.stats.warnings["nul"] == 1 and not ingestor.stats.errors
    workflow["metadata"]["labels"]["workflows.argoproj.io/workflow-archiving-status"] = "Persisted"
    assert await stored(conn) == expected(workflow)


async def test_offloaded_nodes_holding_nuls_are_cleaned_under_an_object_whose_text_held_none(
    pool, conn, settings, pg_server_uri
):
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    workflow = workflow_with_nul()
    workflow["metadata"]["labels"].pop("team\x00")  # the object's own text holds no NUL, its nodes do
    stripped, nodes = offloaded(workflow)
    assert "\\u0000" not in orjson.dumps(stripped).decode()
    await argo.offload(workflow["metadata"]["uid"], workflow["metadata"]["namespace"], nodes)
    async with (
        service.argo_node_status(settings.argo, url=argo.url) as node_status,
        build_ingestor(pool=pool, settings=settings, node_status=node_status) as ingestor,
    ):
        await ingestor.submit(WatchEvent(type="MODIFIED", object=stripped, nul_free=True))
        await ingestor.drain_all()
    assert ingestor.stats.warnings["nul"] == 1 and not ingestor.stats.errors
    assert await stored(conn) == expected(workflow)
