"""A failed run, read over HTTP, names the step that failed it, in its detail and in listings."""

from __future__ import annotations

from runledger.agent.translate import run_id_for
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.real_objects import FIXTURES
from tests.support.workflows import load


async def test_a_failed_run_and_its_list_item_name_the_failing_step(pool, settings):
    obj = load(FIXTURES / "argo" / "dag-disable-fail-fast.yaml")
    obj["status"]["message"] = "child 'dag-disable-fail-fast-r6xdc-3961991537' failed"
    await ingest(pool, settings, [{"type": "ADDED", "object": obj}])
    run_id = run_id_for(obj["metadata"])
    async with serve(settings=settings, pool=pool) as api:
        async with api.get(f"/api/v1/runs/{run_id}") as response:
            run = await response.json()
        async with api.get("/api/v1/runs?phase=Failed") as response:
            (listed,) = (await response.json())["runs"]
    expected = {"id": "dag-disable-fail-fast-r6xdc-3457680277", "name": "C(1)", "template": "c",
                "message": "failed with exit code 2"}  # fmt: skip
    assert run["failed_step"] == expected
    assert run["message"] == "child 'dag-disable-fail-fast-r6xdc-3961991537' failed"
    assert run["failure"] == "child 'C' failed: step 'C(1)' (template c) failed: failed with exit code 2"
    assert (listed["failed_step"], listed["failure"]) == (run["failed_step"], run["failure"])


async def test_a_run_that_did_not_fail_names_no_step(pool, settings):
    obj = load(FIXTURES / "argo" / "dag_retry_succeeded.yaml")
    await ingest(pool, settings, [{"type": "ADDED", "object": obj}])
    async with serve(settings=settings, pool=pool) as api:
        async with api.get(f"/api/v1/runs/{run_id_for(obj['metadata'])}") as response:
            run = await response.json()
    assert (run["failed_step"], run["failure"]) == (None, None)
