"""The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json.

The document is generated, never written by hand: response bodies are the JSON Schemas of the very
pydantic models the handlers serialise (all generated in one pass, so two models of the same name
cannot overwrite each other in ``components.schemas``), and where a handler validates its query
string with a pydantic model, the parameters are that model's fields. What a model cannot say (a
field set by tenancy rather than the query string, a pattern the parser checks by hand) is stated
next to the operation and checked against the model's fields when the document is built, so it
cannot silently drift either.

OPERATIONS is the whole API, one entry per route; a unit test holds it equal to the app's router,
so an endpoint added without an entry fails. OpenAPI cannot name query keys that are themselves
data (``param.lr=0.1``, ``metric.accuracy>=0.9``, ``resources.cpu>=100``): they are described in the operation's text and
declared as ``form``/``explode`` object parameters whose ``patternProperties`` say which keys are
accepted, which is how OpenAPI spells "these keys, whatever their names".

Bearer tokens are optional in the document (``security: [{}, {bearerAuth: []}]``) because auth is
off unless RUNLEDGER_AUTH_MODE turns it on; the 401 and 403 answers are declared wherever a token
can be demanded.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, get_args

import orjson
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from runledger.api import caller_routes, check_routes, preview_routes
from runledger.api import run_routes as run_endpoints
from runledger.api import stats_routes as stats_endpoints
from runledger.kfp import run_documents as kfp_runs
from runledger.store import artifact_listing, pipeline_stats, run_listing
from runledger.store import lineage_graph as lineage
from runledger.store import transition_feed as feed
from runledger.store.read_models import (
    ArtifactDetail,
    ArtifactPage,
    ErrorResponse,
    Health,
    MetricList,
    MetricSeries,
    RunComparison,
    RunDetail,
    RunPage,
    StepList,
    Timeline,
)

REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"
PROMETHEUS_TEXT = "text/plain"
EVENT_STREAM = "text/event-stream"


# --- the table's vocabulary -------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """A response body: a pydantic model (JSON), or a plain schema with its media type."""

    model: type[BaseModel] | None = None
    schema: dict[str, Any] | None = None
    media_type: str = JSON


@dataclass(frozen=True)
class Response:
    description: str
    body: Body
    # Response headers a client reads: name -> {"description", "schema"}.
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    """A parameter no model describes (KFP's, path segments, the dynamic run filters)."""

    name: str
    schema: dict[str, Any]
    description: str
    where: Literal["query", "path", "header"] = "query"
    required: bool = False
    # OpenAPI serialisation (style/explode), for arrays and the dynamic-key objects.
    style: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueryModel:
    """Query parameters read from a pydantic model's fields."""

    model: type[BaseModel]
    # Fields the query string does not set (tenancy fills them, or a Param describes them).
    hidden: frozenset[str] = frozenset()
    # Schema keywords the parser enforces by hand, per field.
    refine: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    path: str
    operation_id: str
    summary: str
    tag: str
    responses: dict[int, Response]
    method: str = "get"
    description: str = ""
    query: QueryModel | None = None
    parameters: tuple[Param, ...] = ()
    # Reachable without a token even when auth is on (probes, scrapers, KFP's health check).
    public: bool = False


def ok(model: type[BaseModel], description: str = "OK") -> dict[int, Response]:
    return {200: Response(description, Body(model=model))}


def errors(*statuses: int, model: type[BaseModel] = ErrorResponse) -> dict[int, Response]:
    return {status: Response(_ERROR_TEXT[status], Body(model=model)) for status in statuses}


_ERROR_TEXT = {
    400: "Bad request: a malformed or unknown parameter, or a page token issued for another query.",
    401: "No usable bearer token (only when auth is on).",
    403: "The caller may not read the namespace asked for (only when auth is on).",
    404: "Nothing matches the id or reference in the path.",
    416: "The byte range starts past the end of the object (Content-Range: bytes */SIZE says its size).",
    502: "S3 refused runledger's request for the object: access denied, or a request it rejects.",
    503: "The database is unavailable, or the query took too long.",
}


def path_param(name: str, description: str, **schema: Any) -> Param:
    return Param(name=name, schema={"type": "string", "minLength": 1, **schema}, description=description,
                 where="path", required=True)  # fmt: skip


# --- the dynamic keys of GET /api/v1/runs ----------------------------------------------------------

_NAME = run_listing.NAME
_NUMBER = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?"
_SORT = rf"^-?(?:{'|'.join(get_args(run_listing.SortField))}|metric\.{_NAME}|resources\.{_NAME})$"


def _comparisons(prefix: str, description: str) -> Param:
    """The `PREFIX.NAME OP NUMBER` filters (metrics, resources): one query key per comparison."""
    return Param(
        name=f"{prefix}.{{name}}{{op}}",
        schema={
            "type": "object",
            "patternProperties": {
                # `x.acc=0.9`, `x.acc!=0.9`, `x.acc<=0.9`, `x.acc>=0.9`: the query string's first '='
                # ends the key, so the operator's first character stays in it.
                rf"^{prefix}\.{_NAME}[!<>]?$": {"type": "string", "pattern": rf"^{_NUMBER}$"},
                # `x.acc<0.9`, `x.acc>0.9`: no '=' at all, the whole comparison is the key.
                rf"^{prefix}\.{_NAME}[<>]{_NUMBER}$": {"type": "string", "maxLength": 0},
            },
            "additionalProperties": False,
            "maxProperties": run_listing.MAX_REPEATED,
        },
        description=description,
        style={"style": "form", "explode": True},
    )


RUN_FILTERS = (
    Param(
        name="label",
        schema={"type": "array", "maxItems": run_listing.MAX_REPEATED,
                "items": {"type": "string", "pattern": r"^(?:![A-Za-z0-9_.\-/]{1,317}|[A-Za-z0-9_.\-/]{1,317}(?:=[\s\S]*)?)$"}},
        description="Repeatable label selector: `label=KEY=VALUE` (the label has this value), `label=KEY=PREFIX*` "
        "(its value starts with PREFIX; `%`, `_` and `\\` in PREFIX are plain characters), `label=KEY` (it is set), "
        "`label=!KEY` (it is not set). Every selector must hold.",
        style={"style": "form", "explode": True},
    ),  # fmt: skip
    Param(
        name="param.{name}",
        schema={
            "type": "object",
            "patternProperties": {rf"^param\.{_NAME}$": {"type": "string"}},
            "additionalProperties": False,
            "maxProperties": run_listing.MAX_REPEATED,
        },
        description="Run argument filters, one query key per argument: `param.NAME=VALUE` keeps runs whose argument "
        "NAME is exactly VALUE; `param.NAME=PREFIX*` those whose argument NAME starts with PREFIX (`%`, `_` and `\\` "
        "in PREFIX are plain characters). A trailing `*` always means a prefix.",
        style={"style": "form", "explode": True},
    ),
    _comparisons(
        "metric",
        "Metric comparisons, one query key per comparison: `metric.NAME OP NUMBER` with OP one of "
        "`= != < <= > >=`, against the run's value of the metric (the one its last-finished step reported).",
    ),
    _comparisons(
        "resources",
        "Resource comparisons, one query key per comparison: `resources.NAME OP NUMBER` with OP one of "
        "`= != < <= > >=`, against the seconds of the resource the run used (Argo's status.resourcesDuration, e.g. "
        "`resources.cpu>=100`, `resources.nvidia.com/gpu>0`); runs that report no such resource never match.",
    ),
)

_RUNS_TEXT = """\
Runs, newest first, paged by keyset on (sort key, id): `next_page_token` continues the same query
and is refused (400) with other filters or another sort.

Besides the fixed parameters, four families of query keys filter the list; each may be given up
to 20 times and every one must hold:

* `label=team=nlp`, `label=team=ml-*` (a prefix), `label=team`, `label=!team`: label selectors;
* `param.NAME=VALUE`: the run argument NAME equals VALUE, e.g. `param.lr=0.1`; a trailing `*` makes
  VALUE a prefix, e.g. `param.model=resnet*`;
* `metric.NAME OP NUMBER`, OP one of `= != < <= > >=`, e.g. `metric.accuracy>=0.9`;
* `resources.NAME OP NUMBER`: seconds of a resource the run used (resourcesDuration), e.g. `resources.cpu>=100`.

`phase` (in any case) and `namespace` take comma-separated lists, and they and `pipeline` may be
repeated: a run in any of the values matches, e.g. `phase=failed,error`.

`sort` is `[-]created_at` (default `-created_at`), `[-]finished_at`, `[-]duration`, `[-]name`,
`[-]metric.NAME` or `[-]resources.NAME`; sorting by a metric or a resource lists the runs that
report it. `limit` is at most the server's page cap (RUNLEDGER_API_MAX_PAGE_SIZE, 500 by default)."""

_RUNS_QUERY = QueryModel(
    run_listing.RunListQuery,
    hidden=frozenset({"namespaces", "labels", "params", "metrics", "resources"}),
    # Phases are read in any case, and a value may list several.
    refine={"sort": {"pattern": _SORT}, "phase": {"items": {"type": "string"}}},
)

_KFP_FILTER = Param(
    name="filter",
    schema={"type": "string"},
    description="A JSON-serialized KFP Filter (`{\"predicates\": [...]}`), optionally URL-encoded once more. Keys: "
    "run_id/id, display_name/name, namespace, status, state, storage_state, created_at, finished_at, "
    "scheduled_at, pipeline_name. Operations as KFP's: EQUALS, NOT_EQUALS, the comparisons, IN (string_values, e.g. "
    "state IN [FAILED, CANCELED] for any of several states) and IS_SUBSTRING on text keys; values are compared as KFP "
    "spells them (case-sensitive).",
)
_KFP_LIST = (
    Param(name="page_token", schema={"type": "string"}, description="next_page_token of the previous page."),
    Param(name="page_size", schema={"type": "integer", "minimum": 0},
          description=f"Runs per page: absent or 0 means {kfp_runs.DEFAULT_PAGE_SIZE}, more than "
          f"{kfp_runs.MAX_PAGE_SIZE} is served as {kfp_runs.MAX_PAGE_SIZE} (KFP's rule)."),  # fmt: skip
    Param(name="sort_by", schema={"type": "string"},
          description='"FIELD", "FIELD asc" or "FIELD desc"; FIELD one of created_at, finished_at, scheduled_at, '
          "name/display_name, run_id/id, metric:NAME. Default: created_at, oldest first."),  # fmt: skip
    _KFP_FILTER,
)
_KFP_TEXT = """\
KFP-compatible (the `kfp` SDK's Client and KFP's REST API read it): KFP's field names, unpopulated
fields left out, errors in KFP's body (`error`, `code` (a gRPC code), `message`, `details`). An
unknown parameter is a 400."""


# Models carried inside a stream's frames, not as a response body: listed so their schemas are published.
STREAMED_MODELS: tuple[type[BaseModel], ...] = (feed.TransitionEvent,)

_EVENTS_TEXT = (
    "Transitions as they are stored, from any replica (Postgres LISTEN/NOTIFY). Without Last-Event-ID the "
    "stream starts now; with it (header, or `last_event_id`), every matching transition after that id is sent "
    "first, none twice. Each event's data is a TransitionEvent (#/components/schemas/TransitionEvent). A stream ends after RUNLEDGER_EVENTS_STREAM_MAX_SECONDS; "
    "reconnect with Last-Event-ID."
)


def _kfp_errors(*statuses: int) -> dict[int, Response]:
    return errors(*statuses, model=kfp_runs.KfpError)


_LOG_TEXT = """\
Argo's archiveLogs stores a step's log as its output artifact `main-logs` (a plain `main.log` in S3);
this reads it from S3 as it is sent. One response holds at most RUNLEDGER_API_LOG_MAX_BYTES (4 MiB
by default): `X-Log-Truncated: true` says the log goes on past what was sent, and `X-Log-Size`
is its whole size. Read a part with a Range header (`bytes=0-1023`, `bytes=1024-`, `bytes=-4096`
for the tail; answered 206) or with `offset` and `limit` (answered 200; a negative offset reads the
tail). A log stored archived (tgz, gzip, zip) is unpacked in memory within the same cap. 404: no
such run (or not readable), step, archived log, or object in S3; 503: S3 is unavailable."""
_LOG_HEADERS = {
    "X-Log-Size": {"description": "The whole log's size in bytes.", "schema": {"type": "integer", "minimum": 0}},
    "X-Log-Truncated": {"description": "true when the log goes on past the bytes sent (the response cap).",
                        "schema": {"type": "string", "enum": ["true", "false"]}},
}  # fmt: skip
_LOG = Response("The log (or the part asked for with offset/limit), as plain text.",
                Body(schema={"type": "string"}, media_type="text/plain"), headers=_LOG_HEADERS)
_LOG_PART = Response("The part of the log a Range header asked for.",
                     Body(schema={"type": "string"}, media_type="text/plain"),
                     headers={**_LOG_HEADERS, "Content-Range": {"description": "bytes FIRST-LAST/SIZE",
                                                                "schema": {"type": "string"}}})  # fmt: skip
_LOG_RANGE = (
    Param(name="offset", schema={"type": "integer"},
          description="The first byte to send; negative: that many bytes from the end (the tail)."),
    Param(name="limit", schema={"type": "integer", "minimum": 1},
          description="The most bytes to send (with a non-negative offset); the server's cap applies too."),
    Param(name="Range", where="header", schema={"type": "string", "pattern": r"^bytes=(?:[0-9]+-[0-9]*|-[0-9]+)$"},
          description="One byte range, instead of offset/limit: bytes=FIRST-LAST, bytes=FIRST- or bytes=-N."),
)  # fmt: skip
_PREVIEW_TEXT = """\
One Range GET of at most RUNLEDGER_API_PREVIEW_MAX_BYTES (64 KiB) from the start of the object,
whatever its size. `kind` says how it reads: `text`, `json` (the whole document, indented),
`csv`/`tsv` (the first rows), `archive` (a tar/tgz/zip's members), or `binary` (a NUL or bytes that
are not UTF-8: nothing of it is shown). Argo stores an output file as a tgz of that one file: such
an archive is previewed as its file, with `members` beside it. `truncated` says there is more."""

_RUN_ID = path_param("run_id", "The run's id (its workflow uid, or the UUIDv5 of namespace/name).")
_KFP_RUN_ID = path_param("run_id", "KFP's run id (label pipeline/runid), else runledger's run id.")


# --- the API -----------------------------------------------------------------------------------------

OPERATIONS: tuple[Operation, ...] = (
    # health
    Operation("/healthz", "getLiveness", "The process serves requests and its watch streams are alive", "health",
              {200: Response("Alive.", Body(model=Health)), 503: Response("A component is stuck.", Body(model=Health))},
              public=True),  # fmt: skip
    Operation("/readyz", "getReadiness", "The database answers, migrations are applied, the initial ingest is done",
              "health", {200: Response("Ready.", Body(model=Health)), 503: Response("Not ready.", Body(model=Health))},
              public=True),  # fmt: skip
    Operation("/metrics", "getPrometheusMetrics", "The service's figures, in the Prometheus text format", "health",
              {200: Response("Prometheus text exposition (version 0.0.4).",
                             Body(schema={"type": "string"}, media_type=PROMETHEUS_TEXT)), **errors(503)},
              public=True),  # fmt: skip
    Operation("/openapi.json", "getOpenApi", "This document", "meta",
              {200: Response("The OpenAPI 3.1 description of this API.", Body(schema={"type": "object"}))},
              public=True),  # fmt: skip
    # the caller and its queries
    Operation("/api/v1/whoami", "whoAmI", "Whether a token is asked for, and who the caller's token names", "meta",
              {**ok(caller_routes.Caller), **errors(400, 503)}, public=True,
              description="Answered 200 with or without a usable token: it tells the caller only about itself (its "
              "user and the namespaces it may read), and `problem` says why a token was not accepted."),  # fmt: skip
    Operation("/api/v1/checks/runs", "checkRunsQuery", "Whether GET /api/v1/runs would accept this query string",
              "runs", {**ok(check_routes.QueryCheck), **errors(400, 503)}, parameters=RUN_FILTERS,
              description="The same query string as GET /api/v1/runs, parsed by the same rules; answered 200 with "
              "the problems its 400 (or 403, for a namespace the caller may not read) would name.",
              query=_RUNS_QUERY),
    Operation("/api/v1/checks/lineage", "checkLineageQuery", "Whether GET /api/v1/lineage would accept this query "
              "string", "lineage", {**ok(check_routes.QueryCheck), **errors(400, 503)},
              description="The same query string as GET /api/v1/lineage, parsed by the same rules (a node is "
              "`artifact:<id|s3://uri>`, `step:<run>/<node>` or `run:<run>`); answered 200 with the problems its "
              "400 would name.",
              query=QueryModel(lineage.LineageQuery, refine={"node": {"pattern": "^(?:artifact|step|run):"}})),  # fmt: skip
    # runs
    Operation("/api/v1/runs", "listRuns", "Runs, filtered and sorted", "runs", {**ok(RunPage), **errors(400, 503)},
              description=_RUNS_TEXT, parameters=RUN_FILTERS, query=_RUNS_QUERY),
    Operation("/api/v1/runs/compare", "compareRuns", "Up to 50 runs side by side: their parameters and metrics",
              "runs", {**ok(RunComparison), **errors(400, 503)}, query=QueryModel(run_endpoints.CompareQuery)),
    Operation("/api/v1/runs/{run_id}", "getRun", "One run with its parameters, step counts and metrics", "runs",
              {**ok(RunDetail), **errors(400, 404, 503)}, parameters=(_RUN_ID,)),
    Operation("/api/v1/runs/{run_id}/steps", "listRunSteps", "The run's steps, their DAG edges, inputs and outputs",
              "runs", {**ok(StepList), **errors(400, 404, 503)}, parameters=(_RUN_ID,)),
    Operation("/api/v1/runs/{run_id}/steps/{step}/logs", "getStepLog", "The step's archived log, from S3",
              "runs", {200: _LOG, 206: _LOG_PART, **errors(400, 404, 416, 502, 503)}, description=_LOG_TEXT,
              parameters=(_RUN_ID, path_param("step", "The step's node id, or its display name when no other step "
                                                      "of the run has it."), *_LOG_RANGE)),  # fmt: skip
    Operation("/api/v1/runs/{run_id}/timeline", "getRunTimeline", "Phase transitions of the run and its steps",
              "runs", {**ok(Timeline), **errors(400, 404, 503)}, parameters=(_RUN_ID,)),
    Operation("/api/v1/runs/{run_id}/metrics", "listRunMetrics", "The run's KFP metrics, per step", "runs",
              {**ok(MetricList), **errors(400, 404, 503)}, parameters=(_RUN_ID,)),
    Operation("/api/v1/pipelines/{pipeline}/metrics", "getPipelineMetricSeries",
              "A metric's time series across a pipeline's runs, oldest first", "runs",
              {**ok(MetricSeries), **errors(400, 503)}, query=QueryModel(run_endpoints.SeriesQuery),
              description="`points` are the runs reporting the metric; `resources_duration` sums the seconds of "
              "each resource (resourcesDuration) over all the pipeline's runs in the same window.",
              parameters=(path_param("pipeline", "The pipeline's name."),)),  # fmt: skip
    # analytics
    Operation("/api/v1/stats/pipelines", "getPipelineStats",
              "What fails, what waits, what costs: every pipeline's figures over a window", "stats",
              {**ok(pipeline_stats.PipelineStats), **errors(400, 503)}, query=QueryModel(stats_endpoints.StatsQuery),
              description="One group per pipeline with runs created in the window, in the namespaces asked for (or "
              "all you may read): runs and their outcomes, success rate, failures by cause, p50/p95 of run and step "
              "duration and of the time spent Pending, retries and flaky steps, resourcesDuration and, with unit "
              "prices configured (RUNLEDGER_COST_*), an estimated cost. The window is whole UTC days. Read from daily "
              "rollups: counts "
              "and sums are exact, percentiles within `percentile_relative_error`. A figure without data is null, "
              "its reason in the group's `missing`."),
    Operation("/api/v1/stats/pipelines/{pipeline}/templates", "getPipelineTemplateStats",
              "The same figures for one pipeline: its runs (the group named null), then each template of its steps",
              "stats", {**ok(pipeline_stats.PipelineStats), **errors(400, 503)},
              query=QueryModel(stats_endpoints.StatsQuery),
              description="A template's figures are of its steps that ran something (pods, containers, HTTP and "
              "plugin steps), each attempt of a retried step counted once; `retries` and `flaky` are of its retried "
              "steps.", parameters=(path_param("pipeline", "The pipeline's name."),)),
    # artifacts
    Operation("/api/v1/artifacts", "listArtifacts", "The artifact index, newest first", "artifacts",
              {**ok(ArtifactPage), **errors(400, 503)},
              description="Keyset pages: `next_page_token` continues the same query. `step` needs `run`. `id` and "
              "`uri` name one artifact: an empty page says there is none (or none the caller may read).",
              query=QueryModel(artifact_listing.ArtifactQuery, hidden=frozenset({"namespaces"}))),  # fmt: skip
    Operation("/api/v1/artifacts/{ref}", "getArtifact",
              "One artifact: S3 metadata, state, the steps that produced and consumed it, its contents' metrics",
              "artifacts", {**ok(ArtifactDetail), **errors(400, 404, 503)},
              parameters=(path_param("ref", "The artifact's numeric id, or its s3://bucket/key URI (slashes "
                                            "included, unescaped)."),)),  # fmt: skip
    Operation("/api/v1/artifacts/{artifact_id}/preview", "previewArtifact",
              "The artifact's first bytes as text, indented JSON, CSV/TSV rows or an archive's members", "artifacts",
              {**ok(preview_routes.ArtifactPreview), **errors(400, 404, 502, 503)}, description=_PREVIEW_TEXT,
              parameters=(path_param("artifact_id", "The artifact's numeric id.", pattern="^[0-9]+$"),)),  # fmt: skip
    # lineage
    Operation("/api/v1/lineage", "getLineage", "The lineage graph around an artifact, a step or a run", "lineage",
              {**ok(lineage.LineageGraph), **errors(400, 404, 503)},
              description="Nodes are steps (`step:<run id>/<node id>`) and artifacts (`artifact:<id>`); edges are "
              "`produced` (step -> artifact), `consumed` (artifact -> step) and `parameter` (step -> step).",
              query=QueryModel(lineage.LineageQuery, refine={"node": {"pattern": "^(?:artifact|step|run):"}})),
    # KFP
    Operation("/apis/v1beta1/healthz", "kfpV1Healthz", "KFP v1beta1 GetHealthz", "kfp",
              {**ok(kfp_runs.HealthzV1), **_kfp_errors(503)}, description=_KFP_TEXT, public=True),
    Operation("/apis/v2beta1/healthz", "kfpV2Healthz", "KFP v2beta1 GetHealthz", "kfp",
              {**ok(kfp_runs.HealthzV2), **_kfp_errors(503)}, description=_KFP_TEXT, public=True),
    Operation("/apis/v1beta1/runs", "kfpV1ListRuns", "KFP v1beta1 ListRuns", "kfp",
              {**ok(kfp_runs.ApiListRunsResponse), **_kfp_errors(400, 503)}, description=_KFP_TEXT,
              parameters=(*_KFP_LIST,
                          Param(name="resource_reference_key.type", schema={"enum": ["NAMESPACE", "UNKNOWN_RESOURCE_TYPE"]},
                                description="NAMESPACE lists the runs of the namespace in resource_reference_key.id; "
                                "runledger does not know experiments, pipelines or jobs."),
                          Param(name="resource_reference_key.id", schema={"type": "string"},
                                description="The namespace, with resource_reference_key.type=NAMESPACE."))),  # fmt: skip
    Operation("/apis/v1beta1/runs/{run_id}", "kfpV1GetRun", "KFP v1beta1 GetRun: the run, its metrics and a rebuilt "
              "workflow manifest", "kfp", {**ok(kfp_runs.ApiRunDetail), **_kfp_errors(400, 404, 503)},
              description=_KFP_TEXT, parameters=(_KFP_RUN_ID,)),  # fmt: skip
    Operation("/apis/v2beta1/runs", "kfpV2ListRuns", "KFP v2beta1 ListRuns", "kfp",
              {**ok(kfp_runs.V2ListRunsResponse), **_kfp_errors(400, 503)}, description=_KFP_TEXT,
              parameters=(Param(name="namespace", schema={"type": "string"}, description="Only this namespace's runs."),
                          Param(name="experiment_id", schema={"type": "string", "maxLength": 0},
                                description="Accepted empty only: runledger does not know KFP experiments."),
                          *_KFP_LIST)),  # fmt: skip
    Operation("/apis/v2beta1/runs/{run_id}", "kfpV2GetRun", "KFP v2beta1 GetRun: the run with its task details",
              "kfp", {**ok(kfp_runs.V2Run), **_kfp_errors(400, 404, 503)}, description=_KFP_TEXT,
              parameters=(_KFP_RUN_ID,)),  # fmt: skip
    # events: the request-response tests leave a stream out, since it has no end to check.
    Operation("/api/v1/events", "streamEvents", "Run and step transitions as Server-Sent Events", "events",
              {200: Response("An endless text/event-stream: `id: <transition id>`, `event: run|step`, `data:` a "
                             "TransitionEvent as JSON; comment lines as heartbeats; a last `event: overflow` for a "
                             "client that fell behind.", Body(schema={"type": "string"}, media_type=EVENT_STREAM)),
               **errors(400, 503)},
              description=_EVENTS_TEXT,
              parameters=(Param(name="namespace", schema={"type": "array", "items": {"type": "string", "minLength": 1,
                                                                                     "maxLength": 253}, "maxItems": 100},
                                description="Only these namespaces' transitions (repeatable).",
                                style={"style": "form", "explode": True}),
                          Param(name="run", schema={"type": "array", "items": {"type": "string", "minLength": 1,
                                                                               "maxLength": 253}, "maxItems": 100},
                                description="Only these runs' transitions (repeatable).",
                                style={"style": "form", "explode": True}),
                          Param(name="last_event_id", schema={"type": "string", "pattern": "^[0-9]{1,19}$"},
                                description="Resume after this event id (for clients that cannot send the "
                                "Last-Event-ID header, which wins when both are given)."))),  # fmt: skip
)


# --- the document ------------------------------------------------------------------------------------


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query field's schema without its `null` branch: absent is how a query says None."""
    schema = {k: v for k, v in schema.items() if k != "title" and not (k == "default" and v is None)}
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    return schema


def _model_parameters(query: QueryModel) -> list[dict[str, Any]]:
    fields = query.model.model_fields
    unknown = (set(query.hidden) | set(query.refine)) - set(fields)
    if unknown:
        raise ValueError(f"{query.model.__name__} has no field(s) {sorted(unknown)}")
    schema = query.model.model_json_schema(mode="validation")
    out = []
    for name, info in fields.items():
        if name in query.hidden:
            continue
        prop = _without_null(schema["properties"][info.alias or name])
        if "$ref" in orjson.dumps(prop).decode():
            raise ValueError(f"{query.model.__name__}.{name}: a query field must be a plain value, not a model")
        description = prop.pop("description", None)
        prop.update(query.refine.get(name, {}))
        param = {"name": info.alias or name, "in": "query", "required": info.is_required(), "schema": prop}
        out.append(param | ({"description": description} if description else {}))
    return out


# aiohttp's HTTP parser refuses a request line or header over 8190 bytes before any handler runs,
# with a plain-text 400; every operation can answer it.
_TRANSPORT_REFUSAL = Response(
    "A request line or header longer than 8190 bytes is refused in plain text.",
    Body(schema={"type": "string"}, media_type="text/plain"),
)


def _with_transport_refusal(declared: Response | None) -> tuple[Response, ...]:
    return (declared, _TRANSPORT_REFUSAL) if declared else (_TRANSPORT_REFUSAL,)


def _parameter(p: Param) -> dict[str, Any]:
    return {"name": p.name, "in": p.where, "required": p.required, "description": p.description,
            "schema": p.schema, **p.style}  # fmt: skip


def _secured(op: Operation) -> bool:
    return not op.public and op.path.startswith(("/api/", "/apis/"))


def _version() -> str:
    try:
        return metadata.version("runledger")
    except metadata.PackageNotFoundError:
        return "unknown"


def _operation(op: Operation, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    templated = set(re.findall(r"\{([^}]+)\}", op.path))
    in_path = {p.name for p in op.parameters if p.where == "path"}
    if templated != in_path:
        raise ValueError(f"{op.operation_id}: path parameters {sorted(in_path)} != {sorted(templated)}")
    error_model = kfp_runs.KfpError if op.path.startswith("/apis/") else ErrorResponse
    declared = {**errors(401, 403, model=error_model), **op.responses} if _secured(op) else dict(op.responses)
    responses = {status: (r,) for status, r in declared.items()}
    responses[400] = _with_transport_refusal(declared.get(400))

    def content(body: Body) -> dict[str, Any]:
        return {"schema": refs[(body.model, "serialization")] if body.model else body.schema}

    operation: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [
            *(_parameter(p) for p in op.parameters if p.where == "path"),
            *(_model_parameters(op.query) if op.query else ()),
            *(_parameter(p) for p in op.parameters if p.where in ("query", "header")),
        ],
        "responses": {
            str(status): {
                "description": " ".join(r.description for r in alternatives),
                "content": {r.body.media_type: content(r.body) for r in alternatives},
                **({"headers": headers} if (headers := {k: v for r in alternatives for k, v in r.headers.items()})
                   else {}),
            }
            for status, alternatives in sorted(responses.items())
        },
    }
    if op.description:
        operation["description"] = op.description
    if _secured(op):
        operation["security"] = [{}, {"bearerAuth": []}]
    return operation


@functools.cache
def build_spec() -> dict[str, Any]:
    """The OpenAPI document (cached: it depends on the code only)."""
    bodies = {r.body.model for op in OPERATIONS for r in op.responses.values() if r.body.model}
    models = sorted(bodies | set(STREAMED_MODELS), key=lambda m: (m.__module__, m.__qualname__))
    refs, definitions = models_json_schema([(m, "serialization") for m in models], ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "runledger",
            "version": _version(),
            "description": "Run history and lineage for Argo Workflows and Kubeflow Pipelines. Timestamps are "
            "RFC 3339 UTC; errors are `{\"error\": {\"code\", \"message\"}}` (KFP's own shape under /apis).",
        },
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required when RUNLEDGER_AUTH_MODE is static or kubernetes; off by default.",
                }
            },
        },
    }


@functools.cache
def _document() -> bytes:
    return orjson.dumps(build_spec())


async def get_openapi(request: web.Request) -> web.Response:
    return web.Response(body=_document(), content_type=JSON)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/openapi.json", get_openapi)


# The copy in the repository, for reading the API without running it; a test keeps it current.
COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = "python -m runledger.api.openapi --write docs/openapi.json"


def readable_document() -> bytes:
    return orjson.dumps(build_spec(), option=orjson.OPT_INDENT_2) + b"\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runledger.api.openapi",
                                     description="Print the OpenAPI document GET /openapi.json serves, or write it.")  # fmt: skip
    parser.add_argument("--write", type=Path, metavar="FILE", help="write it to FILE")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.buffer.write(readable_document())
    else:
        args.write.write_bytes(readable_document())
    return 0


if __name__ == "__main__":
    sys.exit(main())
