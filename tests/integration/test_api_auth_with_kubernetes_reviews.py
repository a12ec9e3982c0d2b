"""Auth in kubernetes mode: tokens checked by TokenReview, namespaces by SubjectAccessReview.

The reviews are answered by the Kubernetes API double over real HTTP, reached through the real
kubernetes-asyncio client the API builds from a kubeconfig. Three runs in two namespaces:

    team-a: train     writes models/m1
    team-b: evaluate  reads models/m1, writes reports/r1
    team-b: private   writes secret/s1

alice reads team-a (through a group), bob reads every namespace, carol reads nothing.
"""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.kube_double import KubeDouble
from tests.support.kubeconfig import write_kubeconfig

ALICE, BOB, CAROL = "alice-token-0123456789", "bob-token-0123456789", "carol-token-0123456789"


def s3(key: str) -> dict:
    return {"name": key.split("/")[0], "s3": {"bucket": "mlpipeline", "key": key}}


def run(name: str, namespace: str, *, inputs=(), outputs=()) -> dict:
    wf = WorkflowBuilder(name=name, namespace=namespace)
    wf.node(name, "Succeeded", type="DAG")
    wf.node(f"{name}-main", "Succeeded", parent=name, inputs={"artifacts": [s3(k) for k in inputs]},
            outputs={"artifacts": [s3(k) for k in outputs]})  # fmt: skip
    return wf.phase("Succeeded").event("ADDED")


@pytest.fixture
async def double():
    async with KubeDouble() as double:
        double.reviews.add_token(ALICE, "alice", groups=["team-a-readers", "system:authenticated"])
        double.reviews.add_token(BOB, "bob")
        double.reviews.add_token(CAROL, "carol")
        double.reviews.grant("group:team-a-readers", "team-a")
        double.reviews.grant("bob", "")
        yield double


@pytest.fixture
def auth_settings(settings, double, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", double.url)
    return settings.updated(auth={"mode": "kubernetes"}, cluster={"kube_config": kubeconfig})


@pytest.fixture
async def api(pool, settings, auth_settings):
    await ingest(pool, settings, [
        run("train", "team-a", outputs=["models/m1"]),
        run("evaluate", "team-b", inputs=["models/m1"], outputs=["reports/r1"]),
        run("private", "team-b", outputs=["secret/s1"]),
    ])  # fmt: skip
    async with serve(settings=auth_settings, pool=pool) as client:
        yield client


async def call(api, path: str, token: str | None, status: int = 200) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with api.get(path, headers=headers) as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        assert response.status == status, body
        return body


async def run_names(api, token: str, query: str = "") -> list[str]:
    return sorted(r["name"] for r in (await call(api, f"/api/v1/runs{query}", token))["runs"])


async def test_requests_without_a_valid_bearer_token_are_refused_with_401(api):
    for headers in ({}, {"Authorization": f"Basic {ALICE}"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer not-a-known-token"}):  # fmt: skip
        async with api.get("/api/v1/runs", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="runledger"'
            assert (await response.json())["error"]["code"] == "unauthenticated"


async def test_health_metrics_and_kfp_healthz_stay_open(api):
    for path in ("/healthz", "/metrics", "/apis/v1beta1/healthz", "/apis/v2beta1/healthz"):
        async with api.get(path) as response:
            assert response.status == 200, path


async def test_a_caller_lists_only_the_runs_of_namespaces_it_may_read(api):
    assert await run_names(api, ALICE) == ["train"]
    assert await run_names(api, BOB) == ["evaluate", "private", "train"]
    assert await run_names(api, CAROL) == []
    assert await run_names(api, ALICE, "?namespace=team-a") == ["train"]


async def test_listing_a_namespace_the_caller_may_not_read_is_forbidden(api):
    body = await call(api, "/api/v1/runs?namespace=team-b", ALICE, status=403)
    assert body["error"]["code"] == "forbidden" and "team-b" in body["error"]["message"]
    assert await run_names(api, BOB, "?namespace=team-b") == ["evaluate", "private"]


async def test_runs_of_other_namespaces_are_not_found_by_id(api):
    assert (await call(api, "/api/v1/runs/uid-train", ALICE))["namespace"] == "team-a"
    for path in ("", "/steps", "/timeline", "/metrics"):
        await call(api, f"/api/v1/runs/uid-evaluate{path}", ALICE, status=404)
        await call(api, f"/api/v1/runs/uid-evaluate{path}", BOB)
    comparison = await call(api, "/api/v1/runs/compare?ids=uid-evaluate,uid-train", ALICE)
    assert [r["id"] for r in comparison["runs"]] == ["uid-train"]
    assert comparison["missing"] == ["uid-evaluate"]


async def test_artifacts_are_shown_only_through_runs_the_caller_may_read(api):
    listed = await call(api, "/api/v1/artifacts", ALICE)
    assert [a["uri"] for a in listed["artifacts"]] == ["s3://mlpipeline/models/m1"]
    detail = await call(api, "/api/v1/artifacts/s3://mlpipeline/models/m1", ALICE)
    assert [e["run_name"] for e in detail["produced_by"]] == ["train"]
    assert detail["consumed_by"] == []  # evaluate, in team-b, read it
    await call(api, "/api/v1/artifacts/s3://mlpipeline/secret/s1", ALICE, status=404)
    everything = await call(api, "/api/v1/artifacts/s3://mlpipeline/models/m1", BOB)
    assert [e["run_name"] for e in everything["consumed_by"]] == ["evaluate"]


async def test_lineage_crossing_into_a_forbidden_namespace_shows_a_redacted_node(api):
    graph = await call(api, "/api/v1/lineage?node=artifact:s3://mlpipeline/models/m1&direction=downstream", ALICE)
    kinds = sorted((n["kind"], n["redacted"]) for n in graph["nodes"])
    assert kinds == [("artifact", False), ("step", True)]
    hidden = next(n for n in graph["nodes"] if n["redacted"])
    assert "namespace" not in hidden and "run_name" not in hidden
    assert hidden["id"] == "redacted:1" and "evaluate" not in json.dumps(graph)  # no workflow name, no uid
    assert [(e["target"], e["kind"]) for e in graph["edges"]] == [("redacted:1", "consumed")]
    full = await call(api, "/api/v1/lineage?node=artifact:s3://mlpipeline/models/m1&direction=downstream", BOB)
    assert {n.get("uri") for n in full["nodes"]} >= {"s3://mlpipeline/reports/r1"}
    await call(api, "/api/v1/lineage?node=run:uid-evaluate", ALICE, status=404)


async def test_kfp_compatible_reads_are_scoped_the_same_way(api):
    listed = await call(api, "/apis/v2beta1/runs", ALICE)
    assert [r["display_name"] for r in listed["runs"]] == ["train"]
    refused = await call(api, "/apis/v2beta1/runs?namespace=team-b", ALICE, status=403)
    assert refused["code"] == 7  # google.rpc PERMISSION_DENIED, as KFP's gateway answers
    await call(api, "/apis/v2beta1/runs/uid-evaluate", ALICE, status=404)
    await call(api, "/apis/v1beta1/runs/uid-evaluate", ALICE, status=404)
    v1 = await call(api, "/apis/v1beta1/runs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-b", BOB)
    assert sorted(r["name"] for r in v1["runs"]) == ["evaluate", "private"]


async def test_reviews_are_cached_and_carry_the_callers_identity(api, double):
    for _ in range(3):
        assert await run_names(api, ALICE) == ["train"]
        await call(api, "/api/v1/runs/uid-train", ALICE)
    reviews = double.reviews
    assert reviews.count("TokenReview") == 1
    asked = [body["spec"] for kind, body in reviews.calls if kind == "SubjectAccessReview"]
    # Once cluster-wide (no), then once per namespace runledger knows.
    assert sorted(s["resourceAttributes"]["namespace"] for s in asked) == ["", "team-a", "team-b"]
    for spec in asked:
        assert spec["user"] == "alice" and spec["uid"] == "uid-alice"
        assert spec["groups"] == ["team-a-readers", "system:authenticated"]
        assert {k: v for k, v in spec["resourceAttributes"].items() if k != "namespace"} == {
            "verb": "get", "group": "argoproj.io", "resource": "workflows"}  # fmt: skip
    token_review = next(body for kind, body in reviews.calls if kind == "TokenReview")
    assert token_review["spec"] == {"token": ALICE}


async def test_a_failing_reviewer_is_a_503_never_an_allow_or_a_401(api, double, caplog):
    double.reviews.fail_next(500)
    body = await call(api, "/api/v1/runs", ALICE, status=503)
    assert body["error"]["code"] == "unavailable"
    assert ALICE not in caplog.text
    # Nothing was cached from the failure: the next request is reviewed and answered.
    assert await run_names(api, ALICE) == ["train"]

    double.reviews.fail_next(403)  # runledger's own RBAC lacks tokenreviews
    with caplog.at_level(logging.ERROR, logger="runledger.api.access_reviews"):
        await call(api, "/api/v1/runs", CAROL, status=503)
    assert "check its RBAC" in caplog.text


async def test_tokens_must_be_valid_for_the_configured_audience(pool, settings, auth_settings, double):
    double.reviews.add_token("audience-token-0123456789", "dave", audiences=["runledger"])
    double.reviews.grant("dave", "")
    scoped = auth_settings.updated(auth={"token_audiences": "runledger"})
    async with serve(settings=scoped, pool=pool) as api:
        await call(api, "/api/v1/runs", "audience-token-0123456789")
        await call(api, "/api/v1/runs", BOB, status=401)  # valid for the API server only
    assert all(body["spec"]["audiences"] == ["runledger"] for kind, body in double.reviews.calls if kind == "TokenReview")
