"""GET /api/v1/runs/{id}/steps writes its steps without a model per step (list_step_documents and
orjson); what it writes must be what StepOut would, for every real fixture's steps once stored
(parameters, artifacts, pods, parents and children), and for a step whose times are ±infinity."""

from __future__ import annotations

import orjson

from runledger.api.responses import document_response
from runledger.store.read_models import StepList, StepOut
from runledger.store.run_history import list_step_documents
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


async def test_every_stored_step_reads_as_its_validated_model(pool, settings, conn):
    await ingest(pool, settings, [{"type": "ADDED", "object": load(p)} for p in fixture_files()])
    await conn.execute("UPDATE steps SET started_at = '-infinity', finished_at = 'infinity'"
                       " WHERE (run_id, id) = (SELECT run_id, id FROM steps ORDER BY run_id, id LIMIT 1)")  # fmt: skip
    run_ids = [r["id"] for r in await conn.fetch("SELECT id FROM runs ORDER BY id")]
    seen = {"parameters": 0, "artifacts": 0, "children": 0}
    for run_id in run_ids:
        documents = await list_step_documents(conn, run_id)
        written = orjson.loads(document_response({"steps": documents}).body)
        modelled = StepList(steps=[StepOut.model_validate(d) for d in documents])
        assert written == orjson.loads(modelled.model_dump_json())
        assert StepList.model_validate(written) == modelled
        for step in documents:
            seen["parameters"] += len(step["inputs"]["parameters"]) + len(step["outputs"]["parameters"])
            seen["artifacts"] += len(step["inputs"]["artifacts"]) + len(step["outputs"]["artifacts"])
            seen["children"] += len(step["children"])
    assert all(seen.values()), seen  # the fixtures exercise every nested part
