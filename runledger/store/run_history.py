"""Repository for one run's history: typed reads over runs, steps, pods and transitions.

Listings of many runs are in run_listing.py.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from runledger.core.run_state import trusted
from runledger.store.read_models import (
    ArtifactRefOut,
    FailedStepOut,
    KfpRunOut,
    MetricOut,
    MetricPoint,
    MetricSeries,
    PodOut,
    RunComparison,
    RunOut,
    StepOut,
    TransitionOut,
    finite,
)
from runledger.store.sql_blocks import q


def run_columns(*, aliased: bool = False) -> str:
    """The columns `run_from_row` reads, of `runs` (or of `runs r` when `aliased`)."""
    return q("run_columns_r" if aliased else "run_columns", kfp_details=q("kfp_details"))


def run_from_row(row: asyncpg.Record) -> RunOut:
    # Unvalidated: the columns already have the model's types (timestamptz arrives in UTC, or as
    # ±infinity, which finite() makes absent).
    return trusted(RunOut, {
        "id": row["id"],
        "namespace": row["namespace"],
        "name": row["name"],
        "uid": row["uid"],
        "phase": row["phase"],
        "message": row["message"],
        "shutdown": row["shutdown"],
        "kfp_run_id": row["kfp_run_id"],
        "pipeline_name": row["pipeline_name"],
        "scheduled_workflow": row["scheduled_workflow"],
        "created_at": finite(row["created_at"]),
        "started_at": finite(row["started_at"]),
        "finished_at": finite(row["finished_at"]),
        "deleted": row["deleted_at"] is not None,
        "deleted_at": finite(row["deleted_at"]),
        "labels": row["labels"],
        "parameters": row["parameters"],
        "step_counts": row["step_counts"],
        "nodes_offloaded": row["nodes_offloaded"],
        "duration": row["duration_seconds"],
        "resources_duration": row["resources_duration"],
        "progress": row["progress"],
        "estimated_duration": row["estimated_duration"],
        "updated_at": row["updated_at"],
        "failed_step": _failed_step(failed) if (failed := row["failed_step"]) else None,
        "failure": failed["failure"] if failed else None,
        # jsonb keeps its keys in an order of its own: the fields are taken in the model's.
        "kfp": trusted(KfpRunOut, {f: kfp[f] for f in KfpRunOut.model_fields}) if (kfp := row["kfp"]) else None,
    })  # fmt: skip


def _failed_step(stored: dict) -> FailedStepOut:
    return trusted(FailedStepOut, {"id": stored["id"], "name": stored["name"], "template": stored.get("template"),
                                   "message": stored.get("message")})  # fmt: skip


async def get_run(conn: asyncpg.Connection, run_id: str) -> RunOut | None:
    row = await conn.fetchrow(q("get_run", run_columns=run_columns()), run_id)
    return run_from_row(row) if row else None


async def run_namespace(conn: asyncpg.Connection, run_id: str) -> str | None:
    """The run's namespace; None when there is no such run."""
    return await conn.fetchval(q("run_namespace"), run_id)


async def list_steps(conn: asyncpg.Connection, run_id: str) -> list[StepOut]:
    """The run's steps as models (the KFP views read them); the API sends list_step_documents."""
    return [StepOut.model_validate(d) for d in await list_step_documents(conn, run_id)]


async def list_step_documents(conn: asyncpg.Connection, run_id: str) -> list[dict]:
    """The run's steps as StepOut's JSON documents (times aware, in UTC), oldest first.

    Plain dicts, not models: a 5,000-step run is ~50,000 values, and validating them into models only
    to write them out again was most of the time of GET /runs/{id}/steps. The equality with StepOut's
    own JSON is a test (test_step_listings_answer_what_the_step_models_would).
    """
    steps = await conn.fetch(q("list_steps"), run_id)
    edges = await conn.fetch(q("list_edges"), run_id)
    params = await conn.fetch(q("list_step_parameters"), run_id)
    artifacts = await conn.fetch(q("list_artifact_refs"), run_id)
    pods = {p["node_id"]: _pod_document(p) for p in await conn.fetch(q("list_step_pods"), run_id)}
    parents, children = _adjacency(edges)
    io = _step_io(params, artifacts)
    return [
        {
            "id": s["id"],
            "name": s["name"],
            "display_name": s["display_name"],
            "type": s["type"],
            "template": s["template"],
            "phase": s["phase"],
            "boundary_id": s["boundary_id"],
            "pod_name": s["pod_name"],
            "started_at": finite(s["started_at"]),
            "finished_at": finite(s["finished_at"]),
            "exit_code": s["exit_code"],
            "message": s["message"],
            "host_node": s["host_node"],
            "resources_duration": s["resources_duration"],
            "parents": sorted(parents.get(s["id"], [])),
            "children": sorted(children.get(s["id"], [])),
            "inputs": io.get((s["id"], "input")) or {"parameters": [], "artifacts": []},
            "outputs": io.get((s["id"], "output")) or {"parameters": [], "artifacts": []},
            "pod": pods.get(s["id"]),
        }
        for s in steps
    ]


def _adjacency(edges: list[asyncpg.Record]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Each step's parents and children, by step id."""
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for e in edges:
        children.setdefault(e["parent_id"], []).append(e["child_id"])
        parents.setdefault(e["child_id"], []).append(e["parent_id"])
    return parents, children


def _step_io(
    params: list[asyncpg.Record], artifacts: list[asyncpg.Record]
) -> dict[tuple[str, str], dict[str, list[dict]]]:
    """Each step's parameters and artifacts, by (step id, direction)."""
    io: dict[tuple[str, str], dict[str, list[dict]]] = {}

    def slot(step_id: str, direction: str) -> dict[str, list[dict]]:
        return io.setdefault((step_id, direction), {"parameters": [], "artifacts": []})

    for p in params:
        slot(p["step_id"], p["direction"])["parameters"].append(
            {"name": p["name"], "value": p["value"], "truncated": p["truncated"]}
        )
    artifact_fields = tuple(ArtifactRefOut.model_fields)
    for a in artifacts:
        slot(a["step_id"], a["direction"])["artifacts"].append({k: a[k] for k in artifact_fields})
    return io


def _pod_document(row: asyncpg.Record) -> dict:
    fields = {k: row[k] for k in PodOut.model_fields}
    for name in ("scheduled_at", "started_at", "finished_at"):
        fields[name] = finite(fields[name])
    return fields


async def list_transitions(conn: asyncpg.Connection, run_id: str) -> list[TransitionOut]:
    return [
        TransitionOut(
            id=t["id"],
            step_id=t["step_id"] or None,
            from_phase=t["from_phase"],
            to_phase=t["to_phase"],
            at=finite(t["at"]) or t["observed_at"],
            observed_at=t["observed_at"],
        )
        for t in await conn.fetch(q("list_transitions"), run_id)
    ]


async def list_metrics(conn: asyncpg.Connection, run_id: str) -> list[MetricOut]:
    return [MetricOut(**dict(m)) for m in await conn.fetch(q("list_run_metrics"), run_id)]


async def compare_runs(
    conn: asyncpg.Connection, run_ids: list[str], *, namespaces: frozenset[str] | None = None
) -> RunComparison:
    """Runs side by side; ids unknown, or of runs outside `namespaces` (None: all), are listed as missing."""
    rows = await conn.fetch(q("compare_runs", run_columns=run_columns()), run_ids)
    found = {r["id"]: run_from_row(r) for r in rows if namespaces is None or r["namespace"] in namespaces}
    shown = list(found)
    parameters: dict[str, dict[str, str | None]] = {}
    for p in await conn.fetch(q("compare_parameters"), shown):
        parameters.setdefault(p["name"], {})[p["run_id"]] = p["value"]
    metrics: dict[str, dict[str, float]] = {}
    for m in await conn.fetch(q("compare_metrics"), shown):
        metrics.setdefault(m["name"], {})[m["run_id"]] = m["value"]
    return RunComparison(
        runs=[found[i] for i in run_ids if i in found],
        parameters=parameters,
        metrics=metrics,
        missing=[i for i in run_ids if i not in found],
    )


async def metric_series(
    conn: asyncpg.Connection,
    *,
    pipeline: str,
    metric: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    namespaces: frozenset[str] | None = None,
) -> MetricSeries:
    """The metric over the pipeline's runs, oldest first; only runs in `namespaces` (None: all)."""
    readable = sorted(namespaces) if namespaces is not None else None
    rows = await conn.fetch(q("pipeline_metric_series"), pipeline, metric, since, until, limit + 1, readable)
    points = [
        MetricPoint(run_id=r["id"], run_name=r["name"], namespace=r["namespace"], phase=r["phase"],
                    created_at=finite(r["sort_at"]), finished_at=finite(r["finished_at"]), value=r["value"])
        for r in rows[:limit]
    ]  # fmt: skip
    used = await conn.fetchrow(q("pipeline_resources_duration"), pipeline, since, until, readable)
    return MetricSeries(
        pipeline=pipeline, metric=metric, points=points, truncated=len(rows) > limit,
        resources_duration=used["resources"], runs=used["runs"],
    )  # fmt: skip
