"""Read side of the artifact index: listings with filters, and one artifact with its events.

Listings are newest first, paged by keyset on the artifact id. Filters on the steps that produced
or consumed an artifact (run, step, name) go through artifact_refs, indexed by run and by artifact.
"""

from __future__ import annotations

from typing import Literal

import asyncpg
from multidict import MultiDictProxy
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runledger.store import page_tokens
from runledger.store.errors import BadRequest
from runledger.store.records import (
    ArtifactDetail,
    ArtifactEventOut,
    ArtifactMetricOut,
    ArtifactOut,
    ArtifactPage,
)
from runledger.store.sql_blocks import q

MAX_EVENTS = 200  # producers, and consumers, shown in an artifact's detail


class ArtifactQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    uri_prefix: str | None = Field(default=None, min_length=1, max_length=2048, description="e.g. s3://mlpipeline/")
    run: str | None = Field(default=None, max_length=253, description="Produced or consumed by this run.")
    step: str | None = Field(default=None, max_length=253, description="... by this step (node id) of `run`.")
    name: str | None = Field(default=None, max_length=253, description="Named so in a step's inputs or outputs.")
    direction: Literal["input", "output"] | None = None
    state: Literal["pending", "indexed", "missing", "forbidden", "failed"] | None = None
    namespaces: tuple[str, ...] | None = Field(default=None, description="Set by tenancy: the readable namespaces.")
    limit: int = Field(default=50, ge=1, le=500)
    page_token: str | None = Field(default=None, max_length=2048)


def parse_artifact_query(params: MultiDictProxy[str], *, max_limit: int) -> ArtifactQuery:
    duplicated = sorted({k for k in params if len(params.getall(k)) > 1})
    if duplicated:
        raise BadRequest(f"parameter(s) given more than once: {', '.join(duplicated)}")
    try:
        query = ArtifactQuery.model_validate(dict(params))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise BadRequest(f"unknown parameter {where!r}" if error["type"] == "extra_forbidden" else f"{where}: {error['msg']}") from None
    if query.step and not query.run:
        raise BadRequest("step needs run: node ids are unique within a run only")
    if query.limit > max_limit:
        raise BadRequest(f"limit must be at most {max_limit}")
    if query.page_token:
        _decode(query)
    return query


def _fingerprint(query: ArtifactQuery) -> str:
    return page_tokens.query_hash(query, exclude={"limit", "page_token", "namespaces"})


def _decode(query: ArtifactQuery) -> int:
    assert query.page_token is not None
    _, last_id = page_tokens.decode(query.page_token, _fingerprint(query))
    if isinstance(last_id, bool) or not isinstance(last_id, int):
        raise BadRequest("page_token is malformed")
    return last_id


def _artifact(row: asyncpg.Record) -> dict:
    return {k: row[k] for k in ArtifactOut.model_fields}


async def list_artifacts(conn: asyncpg.Connection, query: ArtifactQuery) -> ArtifactPage:
    args: list[object] = []

    def bind(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    where: list[str] = []
    if query.uri_prefix:
        # Bound as a pattern with LIKE's metacharacters escaped; text_pattern_ops serves it.
        escaped = query.uri_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(f"a.uri LIKE {bind(escaped + '%')}")
    if query.state:
        where.append(f"a.state = {bind(query.state)}")
    ref_conditions = ["r.artifact_id = a.id"]
    if query.run:
        ref_conditions.append(f"r.run_id = {bind(query.run)}")
    if query.step:
        ref_conditions.append(f"r.step_id = {bind(query.step)}")
    if query.name:
        ref_conditions.append(f"r.name = {bind(query.name)}")
    if query.direction:
        ref_conditions.append(f"r.direction = {bind(query.direction)}")
    if query.namespaces is not None:
        ref_conditions.append(
            f"EXISTS (SELECT 1 FROM runs x WHERE x.id = r.run_id AND x.namespace = ANY({bind(list(query.namespaces))}::text[]))"
        )
    if len(ref_conditions) > 1:
        where.append(f"EXISTS (SELECT 1 FROM artifact_refs r WHERE {' AND '.join(ref_conditions)})")
    if query.page_token:
        where.append(f"a.id < {bind(_decode(query))}")
    limit = bind(query.limit + 1)
    sql = (
        f"SELECT {q('artifact_columns')} FROM artifacts a"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY a.id DESC LIMIT {limit}"
    )
    rows = await conn.fetch(sql, *args)
    token = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        token = page_tokens.encode(_fingerprint(query), None, rows[-1]["id"])
    return ArtifactPage(artifacts=[ArtifactOut(**_artifact(r)) for r in rows], next_page_token=token)


async def get_artifact(
    conn: asyncpg.Connection, ref: str, *, namespaces: frozenset[str] | None = None
) -> ArtifactDetail | None:
    """An artifact by id or by its s3:// URI, with the steps that produced and consumed it.

    Given `namespaces`, only steps of runs in them are shown, and an artifact no such step produced
    or consumed is not found: its URI and metadata belong to tenants the caller cannot read.
    """
    columns = q("artifact_columns")
    # isdigit() alone admits '²' and other digits int() refuses.
    if ref.isascii() and ref.isdigit():
        row = await conn.fetchrow(q("get_artifact").format(artifact_columns=columns), int(ref))
    elif ref.startswith("s3://"):
        row = await conn.fetchrow(q("get_artifact_by_uri").format(artifact_columns=columns), ref)
    else:
        raise BadRequest("an artifact is named by its numeric id or its s3://bucket/key URI")
    if row is None:
        return None
    readable = sorted(namespaces) if namespaces is not None else None
    producers = await conn.fetch(q("artifact_events"), row["id"], MAX_EVENTS + 1, readable, "output")
    consumers = await conn.fetch(q("artifact_events"), row["id"], MAX_EVENTS + 1, readable, "input")
    if namespaces is not None and not producers and not consumers:
        return None
    metrics = await conn.fetch(q("artifact_metrics"), row["id"])
    as_event = lambda e: ArtifactEventOut(**{k: e[k] for k in ArtifactEventOut.model_fields})  # noqa: E731
    return ArtifactDetail(
        **_artifact(row),
        produced_by=[as_event(e) for e in producers[:MAX_EVENTS]],
        consumed_by=[as_event(e) for e in consumers[:MAX_EVENTS]],
        metrics=[ArtifactMetricOut(name=m["name"], value=m["value"], format=m["format"]) for m in metrics],
        content=row["content"],
        events_truncated=len(producers) > MAX_EVENTS or len(consumers) > MAX_EVENTS,
    )
