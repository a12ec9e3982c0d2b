"""Repository for run history: typed reads over the runs, steps and transitions tables.

Run listings are newest first and paged by keyset on (sort_at, id): a page costs the same deep in
the history as at its start, and runs arriving meanwhile never shift or repeat rows of later
pages. The page token is opaque to clients but carries a hash of the filters it was issued for,
so a token replayed against another query is refused instead of silently returning wrong rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field

from runledger.metadata.queries import q
from runledger.metadata.schemas import (
    ArtifactRefOut,
    ParameterOut,
    PodOut,
    RunOut,
    RunPage,
    StepIO,
    StepOut,
    TransitionOut,
)


class BadRequest(ValueError):
    """A client error: the message is safe to return as-is."""


class RunQuery(BaseModel):
    """Filters of GET /api/v1/runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str | None = Field(default=None, max_length=253)
    phase: str | None = Field(default=None, max_length=64)
    pipeline: str | None = Field(default=None, max_length=512)
    kfp_run_id: str | None = Field(default=None, max_length=128)
    created_after: datetime | None = None
    created_before: datetime | None = None
    deleted: bool | None = Field(default=None, description="true: only deleted runs; false: only live ones.")
    limit: int = Field(default=50, ge=1, le=500)
    page_token: str | None = Field(default=None, max_length=2048)


_FILTERS = {
    # field -> SQL fragment with one placeholder; values are always bound, never interpolated.
    "namespace": "namespace = ${}",
    "phase": "phase = ${}",
    "pipeline": "pipeline_name = ${}",
    "kfp_run_id": "kfp_run_id = ${}",
    "created_after": "created_at >= ${}",
    "created_before": "created_at < ${}",
}


def _filter_hash(query: RunQuery) -> str:
    significant = query.model_dump(mode="json", exclude={"limit", "page_token"})
    return hashlib.blake2b(orjson.dumps(significant, option=orjson.OPT_SORT_KEYS), digest_size=6).hexdigest()


def encode_token(query: RunQuery, sort_at: datetime, run_id: str) -> str:
    payload = {"f": _filter_hash(query), "t": sort_at.isoformat(), "i": run_id}
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(query: RunQuery, token: str) -> tuple[datetime, str]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        filters, at, run_id = payload["f"], payload["t"], payload["i"]
        if not isinstance(run_id, str) or not isinstance(filters, str) or not isinstance(at, str):
            raise TypeError
        sort_at = datetime.fromisoformat(at)
        if sort_at.tzinfo is None:
            raise TypeError
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise BadRequest("page_token is malformed") from None
    if filters != _filter_hash(query):
        raise BadRequest("page_token was issued for a different query")
    return sort_at, run_id


def _run(row: asyncpg.Record) -> RunOut:
    return RunOut(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        uid=row["uid"],
        phase=row["phase"],
        message=row["message"],
        kfp_run_id=row["kfp_run_id"],
        pipeline_name=row["pipeline_name"],
        scheduled_workflow=row["scheduled_workflow"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        deleted=row["deleted_at"] is not None,
        deleted_at=row["deleted_at"],
        labels=row["labels"],
        parameters=row["parameters"],
        step_counts=row["step_counts"],
        nodes_offloaded=row["nodes_offloaded"],
        updated_at=row["updated_at"],
    )


async def list_runs(conn: asyncpg.Connection, query: RunQuery) -> RunPage:
    where: list[str] = []
    args: list[object] = []
    for field, fragment in _FILTERS.items():
        value = getattr(query, field)
        if value is not None:
            args.append(value)
            where.append(fragment.format(len(args)))
    if query.deleted is not None:
        where.append("deleted_at IS NOT NULL" if query.deleted else "deleted_at IS NULL")
    if query.page_token:
        args += decode_token(query, query.page_token)
        where.append(f"(sort_at, id) < (${len(args) - 1}, ${len(args)})")
    args.append(query.limit + 1)
    sql = (
        f"SELECT {q('run_columns')} FROM runs"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY sort_at DESC, id DESC LIMIT ${len(args)}"
    )
    rows = await conn.fetch(sql, *args)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    token = None
    if more:
        last = rows[-1]
        token = encode_token(query, last["sort_at"], last["id"])
    return RunPage(runs=[_run(r) for r in rows], next_page_token=token)


async def get_run(conn: asyncpg.Connection, run_id: str) -> RunOut | None:
    row = await conn.fetchrow(q("get_run").format(run_columns=q("run_columns")), run_id)
    return _run(row) if row else None


async def run_exists(conn: asyncpg.Connection, run_id: str) -> bool:
    return await conn.fetchval(q("run_exists"), run_id)


async def list_steps(conn: asyncpg.Connection, run_id: str) -> list[StepOut]:
    steps = await conn.fetch(q("list_steps"), run_id)
    edges = await conn.fetch(q("list_edges"), run_id)
    params = await conn.fetch(q("list_step_parameters"), run_id)
    artifacts = await conn.fetch(q("list_artifact_refs"), run_id)
    pods = {p["node_id"]: PodOut(**{k: p[k] for k in PodOut.model_fields}) for p in await conn.fetch(q("list_step_pods"), run_id)}
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for e in edges:
        children.setdefault(e["parent_id"], []).append(e["child_id"])
        parents.setdefault(e["child_id"], []).append(e["parent_id"])
    io: dict[tuple[str, str], StepIO] = {}

    def slot(step_id: str, direction: str) -> StepIO:
        return io.setdefault((step_id, direction), StepIO())

    for p in params:
        slot(p["step_id"], p["direction"]).parameters.append(
            ParameterOut(name=p["name"], value=p["value"], truncated=p["truncated"])
        )
    for a in artifacts:
        slot(a["step_id"], a["direction"]).artifacts.append(
            ArtifactRefOut(**{k: a[k] for k in ArtifactRefOut.model_fields})
        )
    return [
        StepOut(
            id=s["id"],
            name=s["name"],
            display_name=s["display_name"],
            type=s["type"],
            template=s["template"],
            phase=s["phase"],
            boundary_id=s["boundary_id"],
            pod_name=s["pod_name"],
            started_at=s["started_at"],
            finished_at=s["finished_at"],
            exit_code=s["exit_code"],
            message=s["message"],
            host_node=s["host_node"],
            parents=sorted(parents.get(s["id"], [])),
            children=sorted(children.get(s["id"], [])),
            inputs=io.get((s["id"], "input"), StepIO()),
            outputs=io.get((s["id"], "output"), StepIO()),
            pod=pods.get(s["id"]),
        )
        for s in steps
    ]


async def list_transitions(conn: asyncpg.Connection, run_id: str) -> list[TransitionOut]:
    return [
        TransitionOut(
            id=t["id"],
            step_id=t["step_id"] or None,
            from_phase=t["from_phase"],
            to_phase=t["to_phase"],
            at=t["at"],
            observed_at=t["observed_at"],
        )
        for t in await conn.fetch(q("list_transitions"), run_id)
    ]
