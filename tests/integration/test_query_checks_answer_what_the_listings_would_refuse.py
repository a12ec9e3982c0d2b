"""/api/v1/checks/runs and /checks/lineage answer 200 with the problem the listing's 400 (or 403) names;
the artifacts listing by id or uri answers an unknown one with an empty page."""

from __future__ import annotations

import json

from pydantic import SecretStr

from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest

QUERIES = ["?phase=sideways", "?sort=-metric.", "?bogus=1", "?limit=0", "?page_token=nonsense", "?metric.acc>=x",
           "?phase=failed&metric.accuracy>=0.9&sort=-duration"]  # fmt: skip


async def answer(api, path: str, headers: dict | None = None) -> tuple[int, dict]:  # noqa: ANN001
    async with api.get(path, headers=headers or {}) as response:
        return response.status, await response.json()


async def test_a_check_names_what_the_listing_refuses_and_passes_what_it_takes(pool, settings):
    async with serve(settings=settings, pool=pool) as api:
        for listing, queries in (("runs", QUERIES), ("lineage", ["?node=bogus", "?node=run:x&depth=0", "?node=run:x"])):
            for query in queries:
                status, body = await answer(api, f"/api/v1/{listing}{query}")
                check_status, check = await answer(api, f"/api/v1/checks/{listing}{query}")
                assert check_status == 200
                if status in (400, 404):
                    expected = {"ok": False, "problems": [body["error"]["message"]], "missing": status == 404}
                    assert check == expected, query
                else:
                    assert check == {"ok": True, "problems": [], "missing": False}, query


async def test_a_check_names_a_namespace_the_caller_may_not_read(pool, settings):
    grants = [{"token": "reader-a-0123456789abcdef", "user": "reader-a", "namespaces": ["team-a"]}]
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(grants))})
    headers = {"Authorization": "Bearer reader-a-0123456789abcdef"}
    async with serve(settings=configured, pool=pool) as api:
        status, body = await answer(api, "/api/v1/runs?namespace=team-b", headers)
        assert status == 403
        assert await answer(api, "/api/v1/checks/runs?namespace=team-b", headers) == (
            200, {"ok": False, "problems": [body["error"]["message"]], "missing": False})  # fmt: skip


async def test_a_lineage_check_passes_a_node_that_exists_and_calls_one_the_caller_may_not_read_missing(pool, settings):
    await ingest(pool, settings, [WorkflowBuilder(name=name, namespace=ns).phase("Succeeded").event("ADDED")
                                  for name, ns in (("mine", "team-a"), ("theirs", "team-b"))])  # fmt: skip
    grants = [{"token": "reader-a-0123456789abcdef", "user": "reader-a", "namespaces": ["team-a"]}]
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(grants))})
    headers = {"Authorization": "Bearer reader-a-0123456789abcdef"}
    async with serve(settings=configured, pool=pool) as api:
        _, runs = await answer(api, "/api/v1/runs", headers)
        (mine,) = runs["runs"]
        ok = await answer(api, f"/api/v1/checks/lineage?node=run:{mine['id']}", headers)
        assert ok == (200, {"ok": True, "problems": [], "missing": False})
        async with pool.acquire() as conn:
            theirs = await conn.fetchval("SELECT id FROM runs WHERE namespace = 'team-b'")
        status, body = await answer(api, f"/api/v1/lineage?node=run:{theirs}", headers)
        assert status == 404
        assert await answer(api, f"/api/v1/checks/lineage?node=run:{theirs}", headers) == (
            200, {"ok": False, "problems": [body["error"]["message"]], "missing": True})  # fmt: skip


async def test_the_artifacts_listing_by_id_or_uri_holds_the_one_artifact_or_none(pool, settings):
    wf = WorkflowBuilder(name="writer", namespace="ml")
    wf.node("writer-1", "Succeeded", outputs={"artifacts": [{"name": "model", "s3": {"bucket": "b", "key": "k/model.tgz"}}]})
    await ingest(pool, settings, [wf.phase("Succeeded").event("ADDED")])
    async with serve(settings=settings, pool=pool) as api:
        _, by_uri = await answer(api, "/api/v1/artifacts?uri=s3://b/k/model.tgz")
        (artifact,) = by_uri["artifacts"]
        _, by_id = await answer(api, f"/api/v1/artifacts?id={artifact['id']}")
        assert by_id["artifacts"] == [artifact]
        assert (await answer(api, "/api/v1/artifacts?uri=s3://b/k/other.tgz"))[1]["artifacts"] == []
        assert (await answer(api, f"/api/v1/artifacts?id={artifact['id'] + 1000}"))[1]["artifacts"] == []
