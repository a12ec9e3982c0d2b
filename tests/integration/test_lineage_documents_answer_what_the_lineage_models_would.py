"""GET /api/v1/lineage writes its graph without a model per node (get_lineage_document and orjson);
what it writes must be what LineageGraph would, for the graph of every run of the demo and of every
real fixture once stored (steps, artifacts, parameter edges), redacted or not, and for a step whose
times are ±infinity."""

from __future__ import annotations

import orjson

from runledger.api.responses import document_response
from runledger.demo.artifact_store import bundled_recording
from runledger.store.lineage_graph import (
    LineageGraph,
    LineageQuery,
    get_lineage_document,
)
from tests.support.ingesting import ingest, replay_command
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


async def test_every_stored_run_s_graph_reads_as_its_validated_model(pool, settings, dsn, conn):
    code, _ = await replay_command(settings.updated(database={"url": dsn}), [bundled_recording()])
    assert code == 0
    await ingest(pool, settings, [{"type": "ADDED", "object": load(p)} for p in fixture_files()])
    await conn.execute("UPDATE steps SET started_at = '-infinity', finished_at = 'infinity'"
                       " WHERE (run_id, id) = (SELECT run_id, id FROM parameters WHERE step_id <> ''"
                       "                       ORDER BY run_id, step_id LIMIT 1)")  # fmt: skip
    runs = await conn.fetch("SELECT id, namespace FROM runs ORDER BY id")
    some_namespace = {runs[0]["namespace"]}
    seen = {"step": 0, "artifact": 0, "redacted": 0, "parameter": 0, "produced": 0, "consumed": 0, "time": 0}
    for run in runs:
        query = LineageQuery(node=f"run:{run['id']}", direction="both", depth=20, limit=2000)
        for namespaces in (None, some_namespace):
            document = await get_lineage_document(conn, query, namespaces=namespaces)
            if document is None:
                continue
            written = orjson.loads(document_response(document).body)
            modelled = LineageGraph.model_validate(document)
            assert written == orjson.loads(modelled.model_dump_json())
            assert LineageGraph.model_validate(written) == modelled
            for node in document["nodes"]:
                seen["redacted" if node["redacted"] else node["kind"]] += 1
                seen["time"] += node.get("started_at") is not None
            for edge in document["edges"]:
                seen[edge["kind"]] += 1
    missing = [k for k, n in seen.items() if not n and k != "redacted"]
    assert not missing, seen  # the data exercises every part of a graph
