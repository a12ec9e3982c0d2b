"""Read side of the artifact index: listings with filters, and one artifact with its events.

Listings are newest first, paged by keyset on the artifact id (paging.py); the query arrives typed
(runledger/api/query_params.py parses the query string into it). Filters on the steps that produced
or consumed an artifact (run, step, name) go through artifact_refs, indexed by run and by artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from runledger.store import page_tokens, paging
from runledger.store.page_tokens import Cursor
from runledger.store.read_errors import BadRequest
from runledger.store.read_models import (
    ArtifactDetail,
    ArtifactEventOut,
    ArtifactMetricOut,
    ArtifactOut,
    ArtifactPage,
)
from runledger.store.sql_blocks import Statement, q, splice

MAX_EVENTS = 200  # producers, and consumers, shown in an artifact's detail


class ArtifactQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="The artifact with this id (one or none).")
    uri: str | None = Field(default=None, min_length=1, max_length=2048, description="The artifact at this s3:// URI.")
    uri_prefix: str | None = Field(default=None, min_length=1, max_length=2048, description="e.g. s3://mlpipeline/")
    run: str | None = Field(default=None, max_length=253, description="Produced or consumed by this run.")
    step: str | None = Field(default=None, max_length=253, description="... by this step (node id) of `run`.")
    name: str | None = Field(default=None, max_length=253, description="Named so in a step's inputs or outputs.")
    direction: Literal["input", "output"] | None = None
    state: Literal["pending", "indexed", "missing", "forbidden", "failed"] | None = None
    namespaces: tuple[str, ...] | None = Field(default=None, description="Set by tenancy: the readable namespaces.")
    limit: int = Field(default=50, ge=1, le=500)
    page_token: str | None = Field(default=None, max_length=2048)


def _fingerprint(query: ArtifactQuery) -> str:
    return page_tokens.fingerprint(query, exclude={"limit", "page_token", "namespaces"})


def start_after(query: ArtifactQuery) -> Cursor | None:
    """Where the query's page starts; BadRequest for a token that is malformed or another query's."""
    if not query.page_token:
        return None
    return page_tokens.decode(query.page_token, fingerprint=_fingerprint(query), kind="none", id_type=int)


def _artifact(row: asyncpg.Record) -> dict:
    return {k: row[k] for k in ArtifactOut.model_fields}


async def list_artifacts(conn: asyncpg.Connection, query: ArtifactQuery) -> ArtifactPage:
    after = start_after(query)
    sql = Statement()
    if query.id is not None:
        sql.where("a.id = {id}", id=sql.bind(query.id))
    if query.uri is not None:
        sql.where("a.uri = {uri}", uri=sql.bind(query.uri))
    if query.uri_prefix:
        # Bound as a pattern with LIKE's metacharacters escaped; text_pattern_ops serves it.
        escaped = query.uri_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql.where("a.uri LIKE {pattern}", pattern=sql.bind(escaped + "%"))
    if query.state:
        sql.where("a.state = {state}", state=sql.bind(query.state))
    refs = ["r.artifact_id = a.id"]
    for column, value in (("run_id", query.run), ("step_id", query.step), ("name", query.name), ("direction", query.direction)):
        if value:
            refs.append(splice("r.{column} = {value}", column=column, value=sql.bind(value)))
    if query.namespaces is not None:
        refs.append(splice(
            "EXISTS (SELECT 1 FROM runs x WHERE x.id = r.run_id AND x.namespace = ANY({namespaces}::text[]))",
            namespaces=sql.bind(list(query.namespaces)),
        ))  # fmt: skip
    if len(refs) > 1:
        sql.where("EXISTS (SELECT 1 FROM artifact_refs r WHERE {refs})", refs=" AND ".join(refs))
    order = paging.Order(key=None, kind="none", id="a.id", descending=True)
    page = await paging.fetch_page(
        conn, sql, columns=q("artifact_columns"), source="artifacts a", order=order, after=after, limit=query.limit
    )
    token = None
    if page.next is not None:
        token = page_tokens.encode(page.next, kind=order.kind, fingerprint=_fingerprint(query))
    return ArtifactPage(artifacts=[ArtifactOut(**_artifact(r)) for r in page.rows], next_page_token=token)


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
        row = await conn.fetchrow(q("get_artifact", artifact_columns=columns), int(ref))
    elif ref.startswith("s3://"):
        row = await conn.fetchrow(q("get_artifact_by_uri", artifact_columns=columns), ref)
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


@dataclass(frozen=True)
class StoredObject:
    """Where an artifact's object is in S3, as the index knows it."""

    artifact_id: int
    uri: str
    bucket: str
    key: str
    endpoint: str | None
    region: str | None
    insecure: bool | None
    state: str
    size: int | None


@dataclass(frozen=True)
class StepLog:
    step_id: str
    log_name: str | None  # None: the step archived no log
    storage: str | None
    stored: StoredObject | None  # None: the log is not an object in S3


def _stored(row: asyncpg.Record) -> StoredObject:
    return StoredObject(**{k: row[k] for k in StoredObject.__dataclass_fields__})


async def step_log(conn: asyncpg.Connection, run_id: str, step: str) -> StepLog | None:
    """The log of the step `step` names (node id, or a display name unique in the run); None when
    no step is named so. BadRequest when the display name is shared."""
    rows = await conn.fetch(q("step_log"), run_id, step)
    if not rows:
        return None
    if len(rows) > 1 and rows[0]["step_id"] != step:
        raise BadRequest(f"{step!r} is the name of several steps of this run; give the step's node id")
    row = rows[0]
    stored = _stored(row) if row["artifact_id"] is not None else None
    return StepLog(step_id=row["step_id"], log_name=row["log_name"], storage=row["storage"], stored=stored)


async def artifact_location(conn: asyncpg.Connection, artifact_id: int) -> StoredObject | None:
    row = await conn.fetchrow(q("artifact_location"), artifact_id)
    return _stored(row) if row else None
