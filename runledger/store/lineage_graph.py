"""Lineage: where a step's inputs came from and what became of its outputs, across runs.

The graph has two kinds of nodes, steps (``step:<run id>/<node id>``) and artifacts
(``artifact:<id>``, one per canonical ``s3://bucket/key``), and three kinds of edges:

- ``produced``: step -> artifact, the artifact is among the step's outputs;
- ``consumed``: artifact -> step, the artifact is among the step's inputs;
- ``parameter``: step -> step in one run, an output parameter of the first fed an input of the second.

Runs are joined through artifacts only: a run that reads what another run wrote shares its
artifact id (the same URI). Argo's ``from:`` artifact passing inside a run needs nothing special,
since the input artifact carries the producer's key. Artifact references without an artifact id
(raw, http, git, gcs artifacts, or S3 ones whose bucket could not be resolved) have no identity to
join on and are left out of the graph.

Parameter edges are inferred, because Argo's status holds resolved values only, not where they came
from. The writer infers them when a run's steps, step edges or parameters change, in the same
transaction, and stores them (parameter_edges, migration 0022: its function parameter_edges_inferred
holds the rules), so a walk reads them as it reads artifact edges. A -> B when an input parameter of B equals an output parameter of A (same run, A != B, the
value non-empty and not truncated), A finished no later than B started, A is an ancestor of B along
the node children Argo records (a dependency in a DAG, an earlier step group), and the value is
distinctive: held by at most 8 output parameters in the run. A pod, its retry node and the DAGs
forwarding its outputs all hold the same value, so one real value has a few holders; a value such
as "true" that every step outputs would otherwise link each step to all that follow (quadratic
edges, and work). Limits: a value B got elsewhere that happens to equal an ancestor's output (a
run argument, say) still makes an edge; a value transformed on the way ("{{=...}}" expressions)
makes none; exit handlers are no node's children, so nothing feeds them; and when a DAG task
forwards a value to its children, the task and its children are all fed by A.

A ``run:<id>`` node stands for its members: the run's steps with recorded inputs or outputs
(structural nodes such as step groups carry no lineage and are left out). They are all roots, at
depth 0, so upstream of a run is upstream of all its members, and likewise downstream.

Each direction is one recursive query (lineage_walk in sql/queries/lineage.sql): a breadth-first
search that expands every node once, however many paths lead to it, so cycles (a step reading
and writing one key, runs reading each other's outputs, in odd data) end by themselves, and whose
last hop is the one that reaches the node cap, rather than finding everything and cutting after.
``both`` is the union of an upstream and a downstream walk, not the undirected neighbourhood.
Then one query fetches the summaries and one the edges among the found nodes (all of them,
including edges no walk took, e.g. between two nodes at the same depth).

Tenancy: given ``namespaces``, a step of a run in any other namespace is returned redacted (its kind
and place in the graph, no summary) and not expanded; edges between two redacted nodes are dropped,
and edges touching one keep no names. Its id is ``redacted:N``, numbered within the response: a
step's id holds its run's uid and its node id, which begins with the workflow's name. An artifact is shown when a step of a readable
namespace produced or consumed it, which every artifact reached from a shown step is; a root that
is not readable is not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field

from runledger.store.read_errors import BadRequest
from runledger.store.read_models import Out, Timestamp, finite
from runledger.store.sql_blocks import q

MAX_DEPTH = 100
MAX_LIMIT = 2000
_BIGINT_MAX = 2**63 - 1
# Run ids are Kubernetes uids or UUIDv5s: never a '/', so a step ref splits at its first one.
_RUN_ID = re.compile(r"[^/\s]{1,253}")
_NODE_ID = re.compile(r"\S{1,512}")

Direction = Literal["upstream", "downstream", "both"]


# --- the request ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeRef:
    """A parsed ``node=`` value."""

    kind: Literal["step", "artifact", "run"]
    run_id: str | None = None
    step_id: str | None = None
    artifact_id: int | None = None
    uri: str | None = None


def parse_ref(text: str) -> NodeRef:
    kind, sep, rest = text.partition(":")
    if not sep:
        raise BadRequest("node must be artifact:<id or s3://bucket/key>, step:<run id>/<node id> or run:<run id>")
    if kind == "artifact":
        if rest.isascii() and rest.isdigit() and 0 < int(rest) <= _BIGINT_MAX:
            return NodeRef(kind="artifact", artifact_id=int(rest))
        bucket, _, key = rest.removeprefix("s3://").partition("/")
        if rest.startswith("s3://") and bucket and key:
            return NodeRef(kind="artifact", uri=rest)
        raise BadRequest("an artifact node is artifact:<numeric id> or artifact:s3://bucket/key")
    if kind == "step":
        run_id, sep, step_id = rest.partition("/")
        if not sep or not _RUN_ID.fullmatch(run_id) or not _NODE_ID.fullmatch(step_id):
            raise BadRequest("a step node is step:<run id>/<node id>")
        return NodeRef(kind="step", run_id=run_id, step_id=step_id)
    if kind == "run":
        if not _RUN_ID.fullmatch(rest):
            raise BadRequest("a run node is run:<run id>")
        return NodeRef(kind="run", run_id=rest)
    raise BadRequest(f"unknown node kind {kind[:40]!r}: one of artifact, step, run")


class LineageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str = Field(min_length=1, max_length=2048, description="artifact:<id|s3://uri>, step:<run>/<node>, run:<run>")
    direction: Direction = "both"
    depth: int = Field(default=5, ge=1, le=MAX_DEPTH, description="Hops from the root; every edge is one hop.")
    limit: int = Field(default=500, ge=1, le=MAX_LIMIT, description="At most this many nodes; more sets truncated.")

    @property
    def ref(self) -> NodeRef:
        return parse_ref(self.node)


# --- the response ---------------------------------------------------------------------------------


class StepNode(Out):
    id: str
    kind: Literal["step"] = "step"
    root: bool = Field(description="A start node: the step asked for, or a member of the run asked for.")
    depth: int = Field(description="Fewest hops from a root.")
    redacted: Literal[False] = False
    run_id: str
    node_id: str
    name: str
    display_name: str | None
    type: str | None
    template: str | None
    phase: str
    started_at: Timestamp | None
    finished_at: Timestamp | None
    namespace: str
    run_name: str
    pipeline_name: str | None


class ArtifactNode(Out):
    id: str
    kind: Literal["artifact"] = "artifact"
    root: bool
    depth: int
    redacted: Literal[False] = False
    artifact_id: int
    uri: str
    state: str
    size: int | None
    names: list[str] = Field(description="What the steps in this graph call it in their inputs and outputs.")


class RedactedNode(Out):
    """A node of a namespace the caller cannot read: there is something, and no more."""

    id: str = Field(description="redacted:N, numbered within this response; it names nothing.")
    kind: Literal["step", "artifact"]
    root: bool
    depth: int
    redacted: Literal[True] = True


class LineageEdge(Out):
    source: str
    target: str
    kind: Literal["produced", "consumed", "parameter"]
    names: list[str] = Field(
        description="produced/consumed: the artifact's name in the step's outputs/inputs; "
        "parameter: the target step's input parameters it fed."
    )


class LineageGraph(Out):
    root: str = Field(description="The node asked for, by id (artifact URIs resolved to their id), or run:<id>.")
    direction: Direction
    depth: int
    nodes: list[StepNode | ArtifactNode | RedactedNode]
    edges: list[LineageEdge]
    truncated: bool = Field(description="The node cap cut the graph: more nodes lie within the depth.")
    truncated_at_depth: int | None = Field(
        default=None,
        description="Where the node cap stopped the walk: every node nearer than this many hops is in the graph, some "
        "at this distance are not, and none further was looked for (ask again from a node found there, or with a "
        "larger limit). Null when the graph is whole within `depth`.",
    )


# --- the queries ----------------------------------------------------------------------------------


@cache
def walk_sql(direction: Literal["upstream", "downstream"]) -> str:
    return q("lineage_walk", neighbours=q(f"lineage_{direction}"))


async def _roots(
    conn: asyncpg.Connection, ref: NodeRef, namespaces: list[str] | None
) -> tuple[str, list[str]] | None:
    """(the root's id, the seed node ids), or None when there is no such node for this caller."""
    if ref.kind == "step":
        namespace = await conn.fetchval(q("lineage_step_exists"), ref.run_id, ref.step_id)
        if namespace is None or (namespaces is not None and namespace not in namespaces):
            return None
        root = f"step:{ref.run_id}/{ref.step_id}"
        return root, [root]
    if ref.kind == "run":
        namespace = await conn.fetchval(q("lineage_run_exists"), ref.run_id)
        if namespace is None or (namespaces is not None and namespace not in namespaces):
            return None
        members = [r["id"] for r in await conn.fetch(q("lineage_run_members"), ref.run_id)]
        return f"run:{ref.run_id}", members
    if ref.artifact_id is not None:
        artifact_id = await conn.fetchval(q("lineage_artifact_by_id"), ref.artifact_id)
    else:
        artifact_id = await conn.fetchval(q("lineage_artifact_by_uri"), ref.uri)
    if artifact_id is None:
        return None
    if namespaces is not None and not await conn.fetchval(q("lineage_artifact_readable"), artifact_id, namespaces):
        return None
    root = f"artifact:{artifact_id}"
    return root, [root]


async def node_exists(conn: asyncpg.Connection, ref: NodeRef, *, namespaces: set[str] | None = None) -> bool:
    """Whether get_lineage_document would find ref's node for a caller reading these namespaces."""
    return await _roots(conn, ref, sorted(namespaces) if namespaces is not None else None) is not None


async def walk(
    conn: asyncpg.Connection,
    seeds: list[str],
    *,
    direction: Literal["upstream", "downstream"],
    depth: int,
    limit: int,
    namespaces: list[str] | None,
) -> tuple[dict[str, int], int | None]:
    """Node id -> fewest hops from a seed, and the hop at which the node cap cut the walk (None: it did not)."""
    rows = await conn.fetch(walk_sql(direction), seeds, depth, limit, namespaces)
    found: dict[str, int] = {}
    for row in rows:
        for node_id in row["ids"]:
            found.setdefault(node_id, row["depth"])
    return found, next((r["depth"] for r in rows if r["truncated"]), None)


async def get_lineage(
    conn: asyncpg.Connection, query: LineageQuery, *, namespaces: set[str] | None = None
) -> LineageGraph | None:
    """The lineage graph around query.node as a model; the API sends get_lineage_document."""
    document = await get_lineage_document(conn, query, namespaces=namespaces)
    return None if document is None else LineageGraph.model_validate(document)


async def get_lineage_document(
    conn: asyncpg.Connection, query: LineageQuery, *, namespaces: set[str] | None = None
) -> dict | None:
    """The lineage graph around query.node as LineageGraph's JSON document (times aware, in UTC);
    None when the node does not exist (or is not readable).

    Run it in one read-only repeatable-read transaction so the walks and the summaries agree. Plain
    dicts, not models: validating a few hundred nodes only to write them out again cost more than the
    walk. The equality with LineageGraph's own JSON is a test
    (test_lineage_documents_answer_what_the_lineage_models_would).
    """
    readable = sorted(namespaces) if namespaces is not None else None
    found_roots = await _roots(conn, query.ref, readable)
    if found_roots is None:
        return None
    root, seeds = found_roots
    cut_at = 0 if len(seeds) > query.limit else None  # the hop where the node cap cut the graph
    seeds = seeds[: query.limit]
    depths: dict[str, int] = {}
    directions: tuple[Literal["upstream", "downstream"], ...] = (
        ("upstream", "downstream") if query.direction == "both" else (query.direction,)
    )
    for direction in directions:
        found, cut = await walk(
            conn, seeds, direction=direction, depth=query.depth, limit=query.limit, namespaces=readable
        )
        if cut is not None:
            cut_at = cut if cut_at is None else min(cut_at, cut)
        for node_id, hops in found.items():
            depths[node_id] = min(hops, depths.get(node_id, hops))
    if len(depths) > query.limit:
        # Two walks, each within the cap, can pass it together: keep the nearest nodes.
        kept = sorted(depths, key=lambda n: (depths[n], n))[: query.limit]
        dropped_from = min(depths[n] for n in set(depths) - set(kept))
        depths = {n: depths[n] for n in kept}
        cut_at = dropped_from if cut_at is None else min(cut_at, dropped_from)
    nodes, edges = await _nodes_and_edges(conn, depths=depths, namespaces=namespaces)
    return {
        "root": root, "direction": query.direction, "depth": query.depth, "nodes": nodes, "edges": edges,
        "truncated": cut_at is not None, "truncated_at_depth": cut_at,
    }  # fmt: skip


async def _nodes_and_edges(
    conn: asyncpg.Connection, *, depths: dict[str, int], namespaces: set[str] | None
) -> tuple[list[dict], list[dict]]:
    """The documents of the found nodes (StepNode, ArtifactNode, RedactedNode) and of the edges among them."""
    # The ids go as one JSON text: asyncpg would check every element of a text[] on the way out.
    found = orjson.dumps(list(depths)).decode()
    node_rows = await conn.fetch(q("lineage_nodes"), found)
    edge_rows = await conn.fetch(q("lineage_edges"), found)

    redacted = {
        r["id"] for r in node_rows if namespaces is not None and r["run_id"] is not None and r["namespace"] not in namespaces
    }
    # Aliases for the hidden ids, numbered in the order the response lists nodes.
    alias = {node: f"redacted:{i}" for i, node in enumerate(sorted(redacted, key=lambda n: (depths[n], n)), 1)}
    edges, artifact_names = _kept_edges(edge_rows, depths=depths, redacted=redacted)
    nodes = [_node_document(r, depth=depths[r["id"]], alias=alias, artifact_names=artifact_names) for r in node_rows]
    nodes.sort(key=lambda n: (n["depth"], n["id"]))
    return nodes, _edge_documents(edges, alias=alias, shown={n["id"] for n in nodes})


def _kept_edges(
    edge_rows: list[asyncpg.Record], *, depths: dict[str, int], redacted: set[str]
) -> tuple[list[tuple[str, str, str, list[str]]], dict[str, set[str]]]:
    """The edges among found nodes but between two hidden ones, and the names each artifact goes by."""
    edges: list[tuple[str, str, str, list[str]]] = []
    artifact_names: dict[str, set[str]] = {}
    for source, target, kind, names in edge_rows:
        if source not in depths or target not in depths:
            continue
        hidden = (source in redacted) + (target in redacted)
        if hidden == 2:
            continue
        if hidden:
            names = []  # an edge touching a hidden step names nothing
        elif kind != "parameter":
            artifact_names.setdefault(target if kind == "produced" else source, set()).update(names)
        edges.append((source, target, kind, names))
    return edges, artifact_names


def _node_document(r: asyncpg.Record, *, depth: int, alias: dict[str, str], artifact_names: dict[str, set[str]]) -> dict:
    """A StepNode, an ArtifactNode, or a RedactedNode for a step the caller may not read."""
    node_id = r["id"]
    if node_id in alias:
        return {"id": alias[node_id], "kind": "step", "root": depth == 0, "depth": depth, "redacted": True}
    if r["run_id"] is not None:
        return {
            "id": node_id, "kind": "step", "root": depth == 0, "depth": depth, "redacted": False,
            "run_id": r["run_id"], "node_id": r["node_id"], "name": r["name"] or r["node_id"],
            "display_name": r["display_name"], "type": r["type"], "template": r["template"],
            "phase": r["phase"] or "", "started_at": finite(r["started_at"]), "finished_at": finite(r["finished_at"]),
            "namespace": r["namespace"], "run_name": r["run_name"], "pipeline_name": r["pipeline_name"],
        }  # fmt: skip
    return {
        "id": node_id, "kind": "artifact", "root": depth == 0, "depth": depth, "redacted": False,
        "artifact_id": r["artifact_id"], "uri": r["uri"], "state": r["state"], "size": r["size"],
        "names": sorted(artifact_names.get(node_id, ())),
    }  # fmt: skip


def _edge_documents(
    edges: list[tuple[str, str, str, list[str]]], *, alias: dict[str, str], shown: set[str]
) -> list[dict]:
    """The edges between shown nodes, in order, a hidden step's id replaced by its alias."""
    edges.sort()
    if not alias:
        return [{"source": s, "target": t, "kind": k, "names": names} for s, t, k, names in edges if s in shown and t in shown]
    return [
        {"source": alias.get(s, s), "target": alias.get(t, t), "kind": k, "names": names}
        for s, t, k, names in edges
        if alias.get(s, s) in shown and alias.get(t, t) in shown
    ]
