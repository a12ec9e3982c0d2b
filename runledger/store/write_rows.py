"""The rows the writer writes: one definition per table, which the statements take their columns from.

Each statement of ``sql/queries/write.sql`` that writes many rows reads them from ``{unnest}``, names
them ``{columns}`` (the alias of the unnested columns and the columns to insert into) and selects
``{values}``. All three are filled in from the NamedTuple of its table below, the only list of those
columns and their Postgres types: ``{unnest}`` becomes a subquery over one JSON array of rows,
``(SELECT r->>0, (r->>1)::timestamptz, ..., n FROM jsonb_array_elements($1::text::jsonb) WITH
ORDINALITY AS j(r, n))`` (``n`` numbers the rows in the order sent), ``{columns}`` ``run_id, ...`` and
``{values}`` ``u.run_id, ...``, in the tuple's order; each row is sent as the JSON array of the
tuple's fields, in that same order. The writer builds each row by keyword, so no value can land in
another column's place.

Why one JSON document rather than one array per column: asyncpg encodes an array element by element,
asking of each value whether it is itself an array (three ``isinstance`` checks against abstract base
classes), which cost more of the agent's CPU than translating the workflows; orjson writes the whole
batch in one pass in C, and Postgres parses it once.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, NamedTuple, get_type_hints

import orjson

from runledger.store.sql_blocks import block, splice

# A field's annotation carries the Postgres type of its array's elements, then, where the column's
# type differs, the column's (the value is cast to it in {values}).
Text = Annotated[str, "text"]
MaybeText = Annotated[str | None, "text"]
# A document serialised with sorted keys, so that its text is its identity; sent as text because the
# pool's jsonb codec would encode a string as a JSON string.
Json = Annotated[str, "text", "jsonb"]
MaybeJson = Annotated[str | None, "text", "jsonb"]
Time = Annotated[datetime | None, "timestamptz"]
Flag = Annotated[bool, "boolean"]
MaybeFlag = Annotated[bool | None, "boolean"]
MaybeInt = Annotated[int | None, "integer"]
MaybeBigInt = Annotated[int | None, "bigint"]
Fingerprint = Annotated[int, "bigint"]


class RunRow(NamedTuple):
    id: Text
    namespace: Text
    name: Text
    uid: MaybeText
    kfp_run_id: MaybeText
    pipeline_name: MaybeText
    scheduled_workflow: MaybeText
    phase: Text
    message: MaybeText
    created_at: Time
    started_at: Time
    finished_at: Time
    labels: Json
    parameters: Json
    step_counts: Json
    nodes_offloaded: Flag
    deleted_at: Time
    resource_version: MaybeText
    fp: Fingerprint
    shutdown: MaybeText
    failed_step: MaybeJson
    resources_duration: Json
    progress: MaybeText
    estimated_duration: MaybeBigInt


class StepRow(NamedTuple):
    run_id: Text
    id: Text
    name: Text
    display_name: MaybeText
    type: Text
    template: MaybeText
    phase: Text
    boundary_id: MaybeText
    pod_name: MaybeText
    started_at: Time
    finished_at: Time
    exit_code: MaybeInt
    message: MaybeText
    host_node: MaybeText
    fp: Fingerprint
    resources_duration: Json


class StepKey(NamedTuple):
    run_id: Text
    id: Text


class EdgeRow(NamedTuple):
    run_id: Text
    parent_id: Text
    child_id: Text


class ParameterRow(NamedTuple):
    run_id: Text
    step_id: Text
    direction: Text
    name: Text
    value: MaybeText
    truncated: Flag
    fp: Fingerprint


class RefKey(NamedTuple):
    """A parameter or an artifact reference of a step."""

    run_id: Text
    step_id: Text
    direction: Text
    name: Text


class ArtifactRefRow(NamedTuple):
    run_id: Text
    step_id: Text
    direction: Text
    name: Text
    path: MaybeText
    storage: MaybeText
    s3_bucket: MaybeText
    s3_key: MaybeText
    s3_endpoint: MaybeText
    s3_region: MaybeText
    s3_insecure: MaybeFlag
    location_source: Text
    archive: MaybeText
    optional: Flag
    uri: MaybeText
    fp: Fingerprint


class ArtifactRow(NamedTuple):
    """An S3 object a reference points to, with the direction of the reference that named it."""

    uri: Text
    bucket: MaybeText
    key: MaybeText
    endpoint: MaybeText
    region: MaybeText
    insecure: MaybeFlag
    direction: Text


class TransitionRow(NamedTuple):
    run_id: Text
    step_id: Text
    from_phase: MaybeText
    to_phase: Text
    at: Annotated[datetime, "timestamptz"]


@cache
def postgres_types(row: type[tuple]) -> tuple[tuple[str, str | None], ...]:
    """(array element type, column type when another) per field of `row`, in order."""
    hints = get_type_hints(row, include_extras=True)
    kinds = (hints[name].__metadata__ for name in row._fields)  # type: ignore[attr-defined]
    return tuple((kind[0], kind[1] if len(kind) > 1 else None) for kind in kinds)


@cache
def statement(name: str, row: type[tuple]) -> str:
    """The SQL block `name` with its `{unnest}`, `{columns}` and `{values}` taken from `row`."""
    template = block(name)
    if "{unnest}" not in template:
        raise KeyError(f"SQL block {name!r} reads no {{unnest}}")
    fields: tuple[str, ...] = row._fields  # type: ignore[attr-defined]
    kinds = postgres_types(row)
    # ->> yields text: only other types need a cast.
    read = ", ".join(f"r->>{i}" if kind == "text" else f"(r->>{i})::{kind}" for i, (kind, _) in enumerate(kinds))
    rows = f"(SELECT {read}, n FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS j(r, n))"
    values = ", ".join(f"u.{f}::{cast}" if cast else f"u.{f}" for f, (_, cast) in zip(fields, kinds, strict=True))
    fragments = {"unnest": rows, "columns": ", ".join(fields), "values": values}
    # A block uses some of them (a delete selects no values); any other slot is an error of splice's.
    return splice(template, **{slot: text for slot, text in fragments.items() if f"{{{slot}}}" in template})


def arrays(rows: list[Any], row: type[tuple]) -> list[Any]:
    """The statement arguments for `rows` (all of type `row`): one JSON array of them, each the array of its fields."""
    for each in rows:
        if type(each) is not row:
            raise TypeError(f"a {type(each).__name__} among the rows of {row.__name__}")
    return [orjson.dumps(rows, default=tuple).decode()]
