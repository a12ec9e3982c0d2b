"""Lineage over real HTTP: artifact chains across runs, parameter passing, depth, caps, tenancy, errors.

Expected graphs are written out by hand for the built workflows, and derived independently from
the raw objects for the real fixtures (matching S3 keys and parameter values in the test itself).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

import pytest

from runledger.agent.translate import translate_workflow
from runledger.store import lineage_graph as lineage
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.workflows import load, raw_nodes

# --- helpers --------------------------------------------------------------------------------------


def art(name: str, key: str) -> dict:
    return {"name": name, "path": f"/tmp/{name}", "s3": {"bucket": "mlpipeline", "key": key, "endpoint": "minio:9000"}}


def uri(key: str) -> str:
    return f"s3://mlpipeline/{key}"


def step(run: str, node: str | None = None) -> str:
    """The node id of a built run's step (its only step `<run>-main` unless named)."""
    return f"step:uid-{run}/{node or run + '-main'}"


def one_step_run(name: str, *, at: str, inputs=(), outputs=(), namespace: str = "ml") -> dict:
    """A finished run: a DAG root and one pod reading `inputs` and writing `outputs` (name, key)."""
    wf = WorkflowBuilder(name=name, namespace=namespace)
    wf.node(name, "Succeeded", type="DAG", templateName="main", at=at)
    wf.node(f"{name}-main", "Succeeded", parent=name, at=at,
            inputs={"artifacts": [art(n, k) for n, k in inputs]},
            outputs={"artifacts": [art(n, k) for n, k in outputs]})  # fmt: skip
    return wf.phase("Succeeded", at=at).event("ADDED")


def graph(body: dict) -> tuple[dict[str, int], set[tuple[str, str, str]]]:
    """(node label -> depth, {(source, target, kind)}) with artifacts labelled by their URI."""
    label = {n["id"]: n.get("uri", n["id"]) for n in body["nodes"]}
    nodes = {label[n["id"]]: n["depth"] for n in body["nodes"]}
    edges = {(label[e["source"]], label[e["target"]], e["kind"]) for e in body["edges"]}
    assert len(edges) == len(body["edges"]), "an edge is listed twice"
    return nodes, edges


async def get_json(api, path: str, status: int = 200) -> dict:
    async with api.get(path) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def lineage_of(api, node: str, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in {"node": node, **params}.items())
    body = await get_json(api, f"/api/v1/lineage?{query}")
    assert body["truncated"] in (True, False)
    return body


# --- a chain of runs joined by artifacts ----------------------------------------------------------
#
#   data/d1 -> train -> models/m1 -> evaluate (namespace lab) -> reports/r1 -> publish -> sites/s1
#                               \-> audit                    \-> logs/evaluate
CHAIN = [
    one_step_run("train", at="2026-01-01T01:00:00Z", inputs=[("dataset", "data/d1.csv")], outputs=[("model", "models/m1")]),
    one_step_run("evaluate", at="2026-01-01T02:00:00Z", inputs=[("model", "models/m1")], namespace="lab",
                 outputs=[("report", "reports/r1"), ("main-logs", "logs/evaluate")]),
    one_step_run("publish", at="2026-01-01T03:00:00Z", inputs=[("report", "reports/r1")], outputs=[("site", "sites/s1")]),
    one_step_run("audit", at="2026-01-01T04:00:00Z", inputs=[("model", "models/m1")]),
]  # fmt: skip

UPSTREAM_OF_PUBLISH = {
    step("publish"): 0,
    uri("reports/r1"): 1,
    step("evaluate"): 2,
    uri("models/m1"): 3,
    step("train"): 4,
    uri("data/d1.csv"): 5,
}
CHAIN_EDGES = {
    (uri("data/d1.csv"), step("train"), "consumed"),
    (step("train"), uri("models/m1"), "produced"),
    (uri("models/m1"), step("evaluate"), "consumed"),
    (uri("models/m1"), step("audit"), "consumed"),
    (step("evaluate"), uri("reports/r1"), "produced"),
    (step("evaluate"), uri("logs/evaluate"), "produced"),
    (uri("reports/r1"), step("publish"), "consumed"),
    (step("publish"), uri("sites/s1"), "produced"),
}


def among(nodes, edges=CHAIN_EDGES) -> set:
    return {e for e in edges if e[0] in nodes and e[1] in nodes}


@pytest.fixture
async def chain(pool, settings):
    await ingest(pool, settings, CHAIN)
    async with serve(settings=settings, pool=pool) as api:
        yield api


async def test_upstream_of_a_step_crosses_runs_through_the_artifacts_they_share(chain):
    body = await lineage_of(chain, step("publish"), direction="upstream", depth=4)
    nodes, edges = graph(body)
    expected = {n: d for n, d in UPSTREAM_OF_PUBLISH.items() if d <= 4}
    assert nodes == expected
    assert edges == among(expected) and len(edges) == 4
    assert body["root"] == step("publish") and body["truncated"] is False
    assert [n["id"] for n in body["nodes"] if n["root"]] == [step("publish")]


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 20])
async def test_depth_cuts_the_graph_at_exactly_that_many_hops(chain, depth):
    nodes, edges = graph(await lineage_of(chain, step("publish"), direction="upstream", depth=depth))
    expected = {n: d for n, d in UPSTREAM_OF_PUBLISH.items() if d <= depth}
    assert nodes == expected
    assert edges == among(expected)


async def test_a_step_and_the_artifacts_it_links_are_summarised(chain):
    body = await lineage_of(chain, step("publish"), direction="upstream", depth=2)
    by_id = {n["id"]: n for n in body["nodes"]}
    evaluate = by_id[step("evaluate")]
    assert {k: evaluate[k] for k in ("kind", "run_id", "node_id", "name", "type", "phase", "namespace", "run_name", "redacted")} == {
        "kind": "step", "run_id": "uid-evaluate", "node_id": "evaluate-main", "name": "evaluate.evaluate-main",
        "type": "Pod", "phase": "Succeeded", "namespace": "lab", "run_name": "evaluate", "redacted": False,
    }  # fmt: skip
    assert evaluate["started_at"] == "2026-01-01T02:00:00Z" and evaluate["finished_at"] == "2026-01-01T02:00:00Z"
    report = next(n for n in body["nodes"] if n["kind"] == "artifact")
    assert report["id"] == f"artifact:{report['artifact_id']}"
    assert (report["uri"], report["state"], report["size"], report["names"]) == (uri("reports/r1"), "pending", None, ["report"])
    edge = next(e for e in body["edges"] if e["kind"] == "produced")
    assert (edge["source"], edge["target"], edge["names"]) == (step("evaluate"), report["id"], ["report"])


async def test_downstream_of_an_artifact_by_uri_or_by_id(chain):
    by_uri = await lineage_of(chain, f"artifact:{uri('models/m1')}", direction="downstream", depth=3)
    nodes, edges = graph(by_uri)
    expected = {
        uri("models/m1"): 0,
        step("evaluate"): 1,
        step("audit"): 1,
        uri("reports/r1"): 2,
        uri("logs/evaluate"): 2,
        step("publish"): 3,
    }
    assert nodes == expected and edges == among(expected)
    root = by_uri["root"]
    assert root.startswith("artifact:") and root[len("artifact:"):].isdigit()
    assert await lineage_of(chain, root, direction="downstream", depth=3) == by_uri


async def test_both_is_the_union_of_upstream_and_downstream_not_the_whole_neighbourhood(chain):
    nodes, edges = graph(await lineage_of(chain, step("evaluate"), direction="both", depth=2))
    expected = {
        step("evaluate"): 0,
        uri("models/m1"): 1,
        uri("reports/r1"): 1,
        uri("logs/evaluate"): 1,
        step("train"): 2,
        step("publish"): 2,
    }
    assert nodes == expected  # audit read the same model, but is neither upstream nor downstream
    assert edges == among(expected)
    default = await lineage_of(chain, step("evaluate"), depth=2)
    assert default["direction"] == "both" and graph(default) == (nodes, edges)


async def test_a_run_stands_for_its_steps_with_inputs_or_outputs(chain):
    body = await lineage_of(chain, "run:uid-evaluate", direction="upstream", depth=2)
    nodes, edges = graph(body)
    assert nodes == {step("evaluate"): 0, uri("models/m1"): 1, step("train"): 2}  # the DAG root has no lineage
    assert edges == among(nodes)
    assert body["root"] == "run:uid-evaluate"
    assert [n["id"] for n in body["nodes"] if n["root"]] == [step("evaluate")]
    down = graph(await lineage_of(chain, "run:uid-train", direction="downstream", depth=1))
    assert down[0] == {step("train"): 0, uri("models/m1"): 1}


@pytest.mark.parametrize(("limit", "truncated"), [(1, True), (3, True), (5, True), (6, False), (2000, False)])
async def test_the_node_cap_keeps_the_nearest_nodes_and_says_it_cut(chain, limit, truncated):
    body = await lineage_of(chain, step("publish"), direction="upstream", depth=20, limit=limit)
    nodes, edges = graph(body)
    assert body["truncated"] is truncated
    assert nodes == {n: d for n, d in UPSTREAM_OF_PUBLISH.items() if d < limit}
    assert edges == among(nodes)
    # Where it stopped: the chain's nodes nearer than the cap's hop are all there, that hop's are not.
    assert body["truncated_at_depth"] == (limit if truncated else None)


async def test_two_walks_within_the_cap_can_still_pass_it_together(chain):
    body = await lineage_of(chain, step("evaluate"), direction="both", depth=2, limit=4)
    nodes, _ = graph(body)
    assert body["truncated"] is True and body["truncated_at_depth"] == 2
    assert nodes == {step("evaluate"): 0, uri("models/m1"): 1, uri("reports/r1"): 1, uri("logs/evaluate"): 1}


async def test_a_walk_goes_up_to_a_hundred_hops_and_no_further(pool, settings):
    # 30 runs, each reading what the one before wrote: 59 hops from the last run's step to the first input.
    runs = [one_step_run(f"r{i}", at=f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00Z", inputs=[("in", f"d/{i}")],
                         outputs=[("out", f"d/{i + 1}")]) for i in range(30)]  # fmt: skip
    await ingest(pool, settings, runs)
    async with serve(settings=settings, pool=pool) as api:
        body = await lineage_of(api, step("r29"), direction="upstream", depth=100)
        nodes, _ = graph(body)
        assert len(nodes) == 60 and max(nodes.values()) == 59
        assert body["truncated"] is False and body["truncated_at_depth"] is None
        fifty = await lineage_of(api, step("r29"), direction="upstream", depth=50)
        assert max(graph(fifty)[0].values()) == 50 and fifty["truncated"] is False
        async with api.get("/api/v1/lineage", params={"node": step("r29"), "depth": "101"}) as resp:
            assert resp.status == 400


# --- parameter passing inside a run ---------------------------------------------------------------

MODEL_PATH = "s3://mlpipeline/runs/p/model-7f3a"


def parameter_run(name: str = "params") -> dict:
    """A DAG whose step a outputs MODEL_PATH; who took it as an input, and who merely had it too.

    root -> a -> b -> d      (b, d: descendants of a that started after it: fed)
    root -> c                (c: same value, not a descendant: not fed)
    a -> e                   (e: a descendant that started before a finished: not fed)
    root -> n0 -> ... -> n8 -> f   (9 steps output "yes", f takes "yes": not distinctive, not fed)
    """

    def params(**values: str) -> list[dict]:
        return [{"name": k, "value": v} for k, v in values.items()]

    wf = WorkflowBuilder(name=name)
    wf.node("root", "Succeeded", type="DAG", at="2026-01-01T00:00:00Z")
    wf.node("a", "Succeeded", parent="root", at="2026-01-01T00:10:00Z",
            outputs={"parameters": params(model=MODEL_PATH, note="")})
    wf.node("b", "Succeeded", parent="a", at="2026-01-01T00:20:00Z",
            inputs={"parameters": params(model_path=MODEL_PATH, note="", lr="0.1")})
    wf.node("c", "Succeeded", parent="root", at="2026-01-01T00:30:00Z", inputs={"parameters": params(model=MODEL_PATH)})
    wf.node("d", "Succeeded", parent="b", at="2026-01-01T00:40:00Z",
            inputs={"parameters": params(model=MODEL_PATH)}, outputs={"parameters": params(model=MODEL_PATH)})
    wf.node("e", "Succeeded", parent="a", at="2026-01-01T00:05:00Z", inputs={"parameters": params(model=MODEL_PATH)})
    parent = "root"
    for i in range(9):
        wf.node(f"n{i}", "Succeeded", parent=parent, at=f"2026-01-01T01:{i:02d}:00Z", outputs={"parameters": params(ok="yes")})
        parent = f"n{i}"
    wf.node("f", "Succeeded", parent=parent, at="2026-01-01T02:00:00Z", inputs={"parameters": params(flag="yes")})
    return wf.phase("Succeeded").event("ADDED")  # fmt: skip


def p(node: str) -> str:
    return f"step:uid-params/{node}"


@pytest.fixture
async def params_api(pool, settings):
    # The same values in another run: parameter edges never leave their run.
    await ingest(pool, settings, [parameter_run(), parameter_run("params-again")])
    async with serve(settings=settings, pool=pool) as api:
        yield api


async def test_an_output_parameter_feeds_the_descendants_that_take_its_value(params_api):
    body = await lineage_of(params_api, p("b"), direction="upstream", depth=5)
    assert graph(body) == ({p("b"): 0, p("a"): 1}, {(p("a"), p("b"), "parameter")})
    assert body["edges"][0]["names"] == ["model_path"]
    nodes, edges = graph(await lineage_of(params_api, p("a"), direction="downstream", depth=5))
    assert nodes == {p("a"): 0, p("b"): 1, p("d"): 1}
    assert edges == {(p("a"), p("b"), "parameter"), (p("a"), p("d"), "parameter")}


@pytest.mark.parametrize(
    "node",
    ["c", "e", "f"],
    ids=["not-a-descendant", "started-before-the-producer-finished", "value-not-distinctive"],
)
async def test_equal_values_alone_do_not_make_a_parameter_edge(params_api, node):
    assert graph(await lineage_of(params_api, p(node), direction="both", depth=5)) == ({p(node): 0}, set())


async def test_a_run_of_parameter_passing_steps_lists_every_member_as_a_root(params_api):
    body = await lineage_of(params_api, "run:uid-params", direction="both", depth=1)
    nodes, edges = graph(body)
    members = {p(n) for n in ["a", "b", "c", "d", "e", "f", *(f"n{i}" for i in range(9))]}
    assert nodes == dict.fromkeys(members, 0)  # the DAG root has no inputs or outputs
    assert all(n["root"] for n in body["nodes"])
    assert edges == {(p("a"), p("b"), "parameter"), (p("a"), p("d"), "parameter")}


def test_the_fixture_oracle_agrees_with_the_hand_written_parameter_edges():
    members, edges = expected_lineage(parameter_run()["object"])
    assert edges == {(p("a"), p("b"), "parameter"), (p("a"), p("d"), "parameter")}
    assert len(members) == 15


# --- cycles ---------------------------------------------------------------------------------------


async def test_cycles_across_runs_and_within_a_step_end(pool, settings):
    await ingest(pool, settings, [
        one_step_run("x", at="2026-01-01T01:00:00Z", inputs=[("in", "k/one")], outputs=[("out", "k/two")]),
        one_step_run("y", at="2026-01-01T02:00:00Z", inputs=[("in", "k/two")], outputs=[("out", "k/one")]),
        one_step_run("self", at="2026-01-01T03:00:00Z", inputs=[("state", "k/self")], outputs=[("state", "k/self")]),
    ])  # fmt: skip
    async with serve(settings=settings, pool=pool) as api:
        for direction in ("upstream", "downstream", "both"):
            nodes, edges = graph(await lineage_of(api, step("x"), direction=direction, depth=20))
            assert set(nodes) == {step("x"), uri("k/one"), step("y"), uri("k/two")}
            assert edges == {
                (uri("k/one"), step("x"), "consumed"),
                (step("x"), uri("k/two"), "produced"),
                (uri("k/two"), step("y"), "consumed"),
                (step("y"), uri("k/one"), "produced"),
            }
        nodes, edges = graph(await lineage_of(api, step("x"), direction="upstream", depth=20))
        assert nodes == {step("x"): 0, uri("k/one"): 1, step("y"): 2, uri("k/two"): 3}
        nodes, edges = graph(await lineage_of(api, step("self"), direction="both", depth=20))
        assert nodes == {step("self"): 0, uri("k/self"): 1}
        assert edges == {(step("self"), uri("k/self"), "produced"), (uri("k/self"), step("self"), "consumed")}


# --- tenancy --------------------------------------------------------------------------------------


async def tenant_view(conn, node: str, namespaces: set[str] | None, **params) -> lineage.LineageGraph | None:
    query = lineage.LineageQuery(node=node, **params)
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        return await lineage.get_lineage(conn, query, namespaces=namespaces)


async def test_steps_of_unreadable_namespaces_are_redacted_and_not_expanded(pool, settings, conn):
    await ingest(pool, settings, CHAIN)
    view = await tenant_view(conn, step("publish"), {"ml"}, direction="upstream", depth=20)
    body = json.loads(view.model_dump_json())
    nodes, edges = graph(body)
    assert nodes == {step("publish"): 0, uri("reports/r1"): 1, "redacted:1": 2}  # model and train lie beyond
    assert edges == {(uri("reports/r1"), step("publish"), "consumed"), ("redacted:1", uri("reports/r1"), "produced")}
    hidden = next(n for n in body["nodes"] if n["id"] == "redacted:1")
    assert hidden == {"id": "redacted:1", "kind": "step", "root": False, "depth": 2, "redacted": True}
    assert "evaluate" not in view.model_dump_json()  # neither the workflow's name nor its uid
    assert next(e for e in body["edges"] if e["kind"] == "produced")["names"] == []
    assert next(n for n in body["nodes"] if n["kind"] == "artifact")["names"] == ["report"]

    everything = await tenant_view(conn, step("publish"), None, direction="upstream", depth=20)
    assert len(everything.nodes) == 6 and not any(n.redacted for n in everything.nodes)
    assert await tenant_view(conn, step("publish"), {"ml", "lab"}, direction="upstream", depth=20) == everything


async def test_an_unreadable_root_is_not_found(pool, settings, conn):
    await ingest(pool, settings, CHAIN)
    assert await tenant_view(conn, step("evaluate"), {"ml"}) is None
    assert await tenant_view(conn, "run:uid-evaluate", {"ml"}) is None
    assert await tenant_view(conn, f"artifact:{uri('logs/evaluate')}", {"ml"}) is None  # only evaluate touched it
    assert await tenant_view(conn, f"artifact:{uri('reports/r1')}", set()) is None
    view = await tenant_view(conn, f"artifact:{uri('logs/evaluate')}", {"lab"}, direction="upstream", depth=1)
    assert [(n.id == view.root, n.redacted) for n in view.nodes] == [(True, False), (False, False)]
    down = await tenant_view(conn, f"artifact:{uri('reports/r1')}", {"lab"}, direction="downstream", depth=5)
    assert [(n.kind, n.redacted) for n in down.nodes] == [("artifact", False), ("step", True)]


# --- the real fixtures ----------------------------------------------------------------------------

FIXTURES = fixture_files()


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) or value is None else json.dumps(value, separators=(",", ":"))


def expected_lineage(obj: dict) -> tuple[set[str], set[tuple[str, str, str]]]:
    """(members, edges) of a workflow, straight from its node inputs and outputs.

    Artifacts are identified by s3://bucket/key (the bucket from the artifact, else from the
    workflow's inline repository); parameters feed a step when equal, non-empty, distinctive (held by
    at most 8 outputs), produced by an ancestor along node children that finished before it started.
    """
    run_id = translate_workflow(obj).run.id
    repository = ((obj.get("status") or {}).get("artifactRepositoryRef") or {}).get("artifactRepository") or {}
    default_bucket = (repository.get("s3") or {}).get("bucket")
    nodes = {n.get("id") or key: n for key, n in raw_nodes(obj).items()}
    members: set[str] = set()
    edges: set[tuple[str, str, str]] = set()
    outputs: dict[str, dict[str, str]] = {}
    inputs: dict[str, dict[str, str]] = {}
    for node_id, node in nodes.items():
        me = f"step:{run_id}/{node_id}"
        for direction in ("inputs", "outputs"):
            io = node.get(direction) or {}
            found = {a["name"]: a for a in io.get("artifacts") or [] if a.get("name")}
            for a in found.values():
                s3 = a.get("s3")
                if not isinstance(s3, dict) or not s3.get("key") or not (s3.get("bucket") or default_bucket):
                    continue
                key = f"s3://{s3.get('bucket') or default_bucket}/{s3['key'].lstrip('/')}"
                edges.add((key, me, "consumed") if direction == "inputs" else (me, key, "produced"))
                members.add(me)
            values = {p["name"]: _text(p.get("value", p.get("default"))) for p in io.get("parameters") or [] if p.get("name")}
            (inputs if direction == "inputs" else outputs)[node_id] = values
            members |= {me} if values else set()
    holders: dict[str, int] = defaultdict(int)
    for values in outputs.values():
        for value in values.values():
            holders[value] += 1
    parents: dict[str, set[str]] = defaultdict(set)
    for node_id, node in nodes.items():
        for child in node.get("children") or []:
            parents[child].add(node_id)

    def ancestors(node_id: str) -> set[str]:
        seen, todo = set(), [node_id]
        while todo:
            for parent in parents[todo.pop()] - seen:
                seen.add(parent)
                todo.append(parent)
        return seen

    for b, b_inputs in inputs.items():
        for a, a_outputs in outputs.items():
            started, finished = _time(nodes[b].get("startedAt")), _time(nodes[a].get("finishedAt"))
            shared = {v for v in b_inputs.values() if v} & {v for v in a_outputs.values() if v}
            if a != b and started and finished and finished <= started and a in ancestors(b):
                if any(holders[v] <= 8 for v in shared):
                    edges.add((f"step:{run_id}/{a}", f"step:{run_id}/{b}", "parameter"))
    return members, edges


def walk(edges: set[tuple[str, str, str]], seeds: set[str], direction: str, depth: int) -> dict[str, int]:
    """Breadth-first distances from `seeds` along `edges`, done the obvious way."""
    adjacent: dict[str, set[str]] = defaultdict(set)
    for source, target, _ in edges:
        if direction == "downstream":
            adjacent[source].add(target)
        else:
            adjacent[target].add(source)
    found = dict.fromkeys(seeds, 0)
    frontier = set(seeds)
    for hop in range(1, depth + 1):
        frontier = {m for n in frontier for m in adjacent[n] if m not in found}
        found.update(dict.fromkeys(frontier, hop))
    return found


def expected_walk(edges, seeds: set[str], direction: str, depth: int) -> dict[str, int]:
    if direction != "both":
        return walk(edges, seeds, direction, depth)
    up, down = walk(edges, seeds, "upstream", depth), walk(edges, seeds, "downstream", depth)
    return {n: min(d[n] for d in (up, down) if n in d) for n in up.keys() | down.keys()}


@pytest.mark.parametrize("path", FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURES])
async def test_each_real_fixture_has_the_lineage_its_nodes_describe(path, pool, settings):
    obj = load(path)
    await ingest(pool, settings, [{"type": "ADDED", "object": obj}])
    members, edges = expected_lineage(obj)
    run_id = translate_workflow(obj).run.id
    async with serve(settings=settings, pool=pool) as api:
        for direction in ("upstream", "downstream", "both"):
            nodes, found_edges = graph(await lineage_of(api, f"run:{run_id}", direction=direction, depth=20, limit=2000))
            expected = expected_walk(edges, members, direction, 20)
            assert nodes == expected, direction
            assert found_edges == {e for e in edges if e[0] in expected and e[1] in expected}, direction
        for member in sorted(members):
            for direction, depth in (("upstream", 20), ("downstream", 20), ("both", 1)):
                nodes, found_edges = graph(await lineage_of(api, member, direction=direction, depth=depth))
                expected = expected_walk(edges, {member}, direction, depth)
                assert nodes == expected, (member, direction)
                assert found_edges == {e for e in edges if e[0] in expected and e[1] in expected}


async def test_the_fixtures_do_pass_artifacts_between_steps(pool, settings):
    """The oracle above is not vacuous: in some fixtures a step reads what another one wrote."""
    consumed = set()
    for path in FIXTURES:
        _, edges = expected_lineage(load(path))
        produced = {e[1] for e in edges if e[2] == "produced"}
        if any(e[2] == "consumed" and e[0] in produced for e in edges):
            consumed.add(path.name)
    assert "util_test__onExitWorkflowRetry.yaml" in consumed
    obj = load(next(p for p in FIXTURES if p.name == "util_test__onExitWorkflowRetry.yaml"))
    run_id = translate_workflow(obj).run.id
    await ingest(pool, settings, [{"type": "ADDED", "object": obj}])
    async with serve(settings=settings, pool=pool) as api:
        body = await lineage_of(api, f"step:{run_id}/work-avoidance-trkkq-3329426915", direction="upstream", depth=2)
    nodes, edges = graph(body)
    assert nodes == {
        f"step:{run_id}/work-avoidance-trkkq-3329426915": 0,  # load-markers
        "s3://my-bucket/work-avoidance-markers": 1,
        f"step:{run_id}/work-avoidance-trkkq-1461956272": 2,  # save-markers, the exit handler
    }


# --- bad requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "node"),
        ("node=", "node"),
        ("node=job:x", "unknown node kind"),
        ("node=uid-train", "node must be"),
        ("node=step:uid-train", "step:<run id>/<node id>"),
        ("node=step:/train-main", "step:<run id>/<node id>"),
        ("node=step:uid-train/", "step:<run id>/<node id>"),
        ("node=run:", "run:<run id>"),
        ("node=run:a/b", "run:<run id>"),
        ("node=artifact:", "artifact:"),
        ("node=artifact:abc", "artifact:"),
        ("node=artifact:-1", "artifact:"),
        ("node=artifact:0", "artifact:"),
        ("node=artifact:99999999999999999999", "artifact:"),
        ("node=artifact:s3://", "artifact:"),
        ("node=artifact:s3://bucket", "artifact:"),
        ("node=run:uid-train&depth=0", "depth"),
        ("node=run:uid-train&depth=101", "depth"),
        ("node=run:uid-train&depth=deep", "depth"),
        ("node=run:uid-train&direction=sideways", "direction"),
        ("node=run:uid-train&limit=0", "limit"),
        ("node=run:uid-train&limit=2001", "limit"),
        ("node=run:uid-train&hops=2", "unknown parameter 'hops'"),
        ("node=run:uid-train&node=run:uid-audit", "more than once"),
    ],
)
async def test_malformed_requests_are_400_saying_what_is_wrong(chain, query, message):
    body = await get_json(chain, f"/api/v1/lineage?{query}", status=400)
    assert body["error"]["code"] == "bad_request"
    assert message in body["error"]["message"]


@pytest.mark.parametrize(
    "node",
    [
        "run:uid-nope",
        "run:x'--",
        "step:uid-train/x'%3B--",
        "step:uid-train/nope",
        "step:uid-nope/train-main",
        "artifact:424242",
        "artifact:s3://mlpipeline/models/nope",
    ],
)
async def test_unknown_nodes_are_404(chain, node):
    body = await get_json(chain, f"/api/v1/lineage?node={node}", status=404)
    assert body["error"]["code"] == "not_found"


async def test_a_run_without_inputs_or_outputs_has_an_empty_graph(pool, settings):
    wf = WorkflowBuilder(name="bare")
    wf.node("bare", "Succeeded", type="DAG")
    await ingest(pool, settings, [wf.phase("Succeeded").event("ADDED")])
    async with serve(settings=settings, pool=pool) as api:
        body = await lineage_of(api, "run:uid-bare")
    assert (body["nodes"], body["edges"], body["truncated"]) == ([], [], False)
