"""The client of the runledger HTTP API: a kept-alive HTTP connection, typed answers, typed errors.

    with RunledgerClient("http://127.0.0.1:8080", token=token) as client:
        for run in client.iter_runs(phase="Failed"):
            print(run.namespace, run.name)

It is synchronous, as a script or a notebook reads a server (MLflow's and Argo's Python clients are
too): a query command starts, asks, prints and exits, and the asyncio machinery cost more to import
than the rest of it. A program that is async itself calls it in a thread (``asyncio.to_thread``).

Every request goes through ``_get`` with an ``Endpoint`` of ``ENDPOINTS``: the path template and the
query keys as the OpenAPI document names them, and the model of the 200 answer. A unit test reads the
same table against the document, so the client never calls a path, a parameter or a shape the server
does not describe. Lists are paged by the server's opaque ``next_page_token``; the ``iter_*`` methods
follow it for the caller. The event feed is Server-Sent Events; ``events`` reconnects with the last
event id whenever the server ends a stream, so the caller sees one endless, gap-free iterator. A step's
log is plain text, streamed in chunks; ``step_log`` goes on from where each capped answer stopped.
HTTP itself is ``transport.Transport`` (the standard library's http.client); answers are read into the
models by ``decoding.read``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from runledger.client.decoding import DecodeError, read
from runledger.client.errors import (
    NotFound,
    RunledgerError,
    ServerError,
    Unavailable,
    Unreachable,
    error_for,
)
from runledger.client.models import (
    ArtifactDetail,
    ArtifactOut,
    ArtifactPage,
    LineageGraph,
    PipelineStats,
    RunComparison,
    RunDetail,
    RunOut,
    RunPage,
    StepList,
    StepOut,
    TransitionEvent,
    V2ListRunsResponse,
)
from runledger.client.transport import ConnectionFailed, Response, Transport
from runledger.core.backoff import Backoff

DEFAULT_SERVER = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Endpoint:
    """One operation the client calls: its path template, the query keys it may send, its answer."""

    path: str
    params: tuple[str, ...]
    model: type | None  # None: not JSON, but `media`
    media: str = "application/json"


RUN_FILTERS = ("namespace", "phase", "pipeline", "kfp_run_id", "deleted", "sort", "count", "limit", "page_token",
               "label", "param.{name}", "metric.{name}{op}")  # fmt: skip
STATS_WINDOW = ("since", "until", "namespace")
ENDPOINTS = {
    "list_runs": Endpoint("/api/v1/runs", RUN_FILTERS, RunPage),
    "get_run": Endpoint("/api/v1/runs/{run_id}", (), RunDetail),
    "list_steps": Endpoint("/api/v1/runs/{run_id}/steps", (), StepList),
    "compare_runs": Endpoint("/api/v1/runs/compare", ("ids",), RunComparison),
    "list_artifacts": Endpoint(
        "/api/v1/artifacts", ("uri_prefix", "run", "step", "name", "direction", "state", "limit", "page_token"),
        ArtifactPage,
    ),
    "get_artifact": Endpoint("/api/v1/artifacts/{ref}", (), ArtifactDetail),
    "lineage": Endpoint("/api/v1/lineage", ("node", "direction", "depth", "limit"), LineageGraph),
    "kfp_list_runs": Endpoint("/apis/v2beta1/runs", ("namespace", "page_size", "sort_by", "filter"), V2ListRunsResponse),
    "events": Endpoint("/api/v1/events", ("namespace", "run", "last_event_id"), None, "text/event-stream"),
    "step_log": Endpoint("/api/v1/runs/{run_id}/steps/{step}/logs", ("offset", "limit"), None, "text/plain"),
    "pipeline_stats": Endpoint("/api/v1/stats/pipelines", STATS_WINDOW, PipelineStats),
    "template_stats": Endpoint("/api/v1/stats/pipelines/{pipeline}/templates", STATS_WINDOW, PipelineStats),
}


class RunledgerClient:
    """A session with one runledger server; use it as a context manager (or call ``close``).

    ``token`` is sent as ``Authorization: Bearer …`` (needed when the server runs with
    RUNLEDGER_AUTH_MODE static or kubernetes). ``timeout`` bounds, in seconds, connecting and each wait
    for the server's answer, except once a stream (a log, the event feed) has begun: that is bounded by
    the server. Failures raise the ``RunledgerError`` subclass of their kind (``runledger.client.errors``)
    with the server's message. One request at a time: a thread of its own takes a client of its own.
    """

    def __init__(self, server: str = DEFAULT_SERVER, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self._transport = Transport(self.server, headers={"Authorization": f"Bearer {token}"} if token else {},
                                    timeout=timeout)  # fmt: skip

    def __enter__(self) -> RunledgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    # --- runs ----------------------------------------------------------------------------------

    def list_runs(
        self, *, namespace: str | None = None, phase: str | None = None, pipeline: str | None = None,
        kfp_run_id: str | None = None, labels: Iterable[str] = (), params: Mapping[str, str] | None = None,
        metrics: Iterable[str] = (), deleted: bool | None = None, sort: str | None = None,
        limit: int | None = None, count: bool = False, page_token: str | None = None,
    ) -> RunPage:
        """One page of runs. ``labels``: ``KEY=VALUE``, ``KEY`` or ``!KEY``; ``params``: argument name →
        value; ``metrics``: comparisons such as ``accuracy>=0.9``; ``sort``: ``created_at``, ``finished_at``,
        ``duration``, ``name`` or ``metric.NAME``, ``-`` first for descending (default ``-created_at``)."""
        query: list[tuple[str, str]] = _pairs(
            namespace=namespace, phase=phase, pipeline=pipeline, kfp_run_id=kfp_run_id, deleted=deleted,
            sort=sort, limit=limit, count=count or None, page_token=page_token,
        )  # fmt: skip
        query += [("label", label) for label in labels]
        query += [(f"param.{name}", value) for name, value in (params or {}).items()]
        query += [_metric_pair(comparison) for comparison in metrics]
        return self._get("list_runs", query=query)

    def iter_runs(self, *, page_size: int | None = None, **filters: Any) -> Iterator[RunOut]:
        """Every run matching ``filters`` (those of ``list_runs``), following page tokens to the end."""
        token = None
        while True:
            page = self.list_runs(limit=page_size, page_token=token, **filters)
            for run in page.runs:
                yield run
            if not (token := page.next_page_token):
                return

    def get_run(self, run_id: str) -> RunDetail:
        """The run whose id (its workflow uid) is ``run_id``, with its metrics."""
        return self._get("get_run", run_id=run_id)

    def find_run(self, ref: str) -> RunDetail:
        """The run ``ref`` means: a run id, a KFP run id, or ``namespace/name`` (the newest run of that
        name when a workflow was deleted and created again). Raises NotFound when none matches."""
        if "/" in ref:
            namespace, _, name = ref.partition("/")
            predicate = {"key": "name", "operation": "EQUALS", "string_value": name}
            page = self._get("kfp_list_runs", query=_pairs(
                namespace=namespace, page_size=1, sort_by="created_at desc", filter=json.dumps({"predicates": [predicate]}),
            ))  # fmt: skip
            if not page.runs:
                raise NotFound(f"no run named {name!r} in namespace {namespace!r}", status=404)
            ref = page.runs[0].run_id  # KFP's run id when the run has one, else runledger's
        try:
            return self.get_run(ref)
        except NotFound:
            page = self.list_runs(kfp_run_id=ref, limit=1)
            if not page.runs:
                raise NotFound(f"no run has the id or KFP run id {ref!r}", status=404) from None
            return self.get_run(page.runs[0].id)

    def list_steps(self, run_id: str) -> list[StepOut]:
        """The run's steps (Argo nodes) with their DAG edges, inputs, outputs and pod facts."""
        return self._get("list_steps", run_id=run_id).steps

    def compare_runs(self, run_ids: Iterable[str]) -> RunComparison:
        """Runs side by side: parameters and metrics by name, then by run id."""
        return self._get("compare_runs", query=[("ids", ",".join(run_ids))])

    # --- analytics -------------------------------------------------------------------------------

    def pipeline_stats(
        self, pipeline: str | None = None, *, since: datetime | None = None, until: datetime | None = None,
        namespace: str | None = None,
    ) -> PipelineStats:  # fmt: skip
        """Every pipeline's figures over the window, or (`pipeline`) its runs' and each template's."""
        query = _pairs(since=since and since.isoformat(), until=until and until.isoformat(), namespace=namespace)
        if pipeline is None:
            return self._get("pipeline_stats", query=query)
        return self._get("template_stats", query=query, pipeline=pipeline)

    # --- artifacts and lineage -------------------------------------------------------------------

    def list_artifacts(self, *, page_token: str | None = None, limit: int | None = None, **filters: str | None) -> ArtifactPage:
        """One page of indexed artifacts; ``filters``: uri_prefix, run, step, name, direction, state."""
        return self._get("list_artifacts", query=_pairs(**filters, limit=limit, page_token=page_token))

    def iter_artifacts(self, *, page_size: int | None = None, **filters: str | None) -> Iterator[ArtifactOut]:
        """Every artifact matching ``filters``, following page tokens to the end."""
        token = None
        while True:
            page = self.list_artifacts(limit=page_size, page_token=token, **filters)
            for artifact in page.artifacts:
                yield artifact
            if not (token := page.next_page_token):
                return

    def get_artifact(self, ref: str | int) -> ArtifactDetail:
        """An artifact by numeric id or ``s3://bucket/key``: who produced and consumed it, what it holds."""
        return self._get("get_artifact", ref=str(ref))

    def lineage(
        self, node: str, *, direction: str | None = None, depth: int | None = None, limit: int | None = None
    ) -> LineageGraph:
        """The graph around ``node`` (``run:<id>``, ``step:<run id>/<node id>``, ``artifact:<id or s3 URI>``)."""
        return self._get("lineage", query=_pairs(node=node, direction=direction, depth=depth, limit=limit))

    # --- step logs -------------------------------------------------------------------------------

    def step_log(self, run_id: str, step: str, *, offset: int = 0) -> Iterator[bytes]:
        """The archived log of ``step`` (node id or display name) of run ``run_id`` from byte ``offset``,
        in chunks as they arrive; answers the server cut at its cap are followed up to the end."""
        while True:
            with self._request("step_log", query=[("offset", str(offset))], stream=True, run_id=run_id,
                               step=step) as resp:  # fmt: skip
                for chunk in resp.chunks():
                    offset += len(chunk)
                    yield chunk
                more = resp.headers.get("x-log-truncated") == "true"
                sent = int(resp.headers.get("content-length") or 0)
            # A capped answer that sent nothing cannot move on: stop rather than ask again forever.
            if not more or not sent:
                return

    # --- the live feed ---------------------------------------------------------------------------

    def events(
        self, *, namespaces: Iterable[str] = (), runs: Iterable[str] = (), last_event_id: int | None = None
    ) -> Iterator[tuple[str, TransitionEvent]]:
        """Phase changes as they are stored, as (``"run"`` or ``"step"``, event), from now on or after
        ``last_event_id``; endless: a stream the server ends is resumed from the last event seen."""
        query = [("namespace", n) for n in namespaces] + [("run", r) for r in runs]
        # A stream that ends without an event (a server shedding slow clients, a proxy's idle cut) is
        # resumed after a growing pause rather than at once, so it cannot turn into a tight loop.
        backoff = Backoff(0.5, 30.0)
        while True:
            resume = [] if last_event_id is None else [("last_event_id", str(last_event_id))]
            received = False
            with self._request("events", query=query + resume, stream=True) as resp:
                for kind, data in _server_sent_events(resp):
                    event = self._read(TransitionEvent, data, status=resp.status)
                    last_event_id, received = event.id, True
                    yield kind, event
            if received:
                backoff.reset()
            else:
                time.sleep(backoff.next())

    # --- plumbing --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _request(
        self, name: str, *, query: list[tuple[str, str]], stream: bool = False, **path_args: str
    ) -> Iterator[Response]:
        """The answer of endpoint ``name``, its body unread; errors raised as ``RunledgerError``s."""
        endpoint = ENDPOINTS[name]
        path = endpoint.path.format(**{k: quote(v, safe="") for k, v in path_args.items()})
        try:
            with self._transport.get(path, query=query, headers={"Accept": endpoint.media}, stream=stream) as resp:
                if resp.status >= 400:
                    raise _error(resp)
                yield resp
        except ConnectionFailed as exc:
            raise Unreachable(f"cannot reach {self.server}: {exc}") from exc
        except TimeoutError as exc:
            raise Unavailable(f"{self.server} did not answer in time") from exc

    def _get(self, name: str, *, query: list[tuple[str, str]] | None = None, **path_args: str) -> Any:
        with self._request(name, query=query or [], **path_args) as resp:
            body = resp.read()
        return self._read(ENDPOINTS[name].model, body, status=resp.status)

    def _read(self, model: type, body: bytes | str, *, status: int) -> Any:
        try:
            return read(model, body)
        except DecodeError as exc:
            raise ServerError(f"{self.server} answered with a body this client cannot read: {exc}",
                              status=status) from exc  # fmt: skip


def _error(resp: Response) -> RunledgerError:
    text = resp.read().decode(errors="replace")
    try:
        error = json.loads(text)["error"]
        return error_for(resp.status, error["message"], code=error.get("code"))
    except (ValueError, KeyError, TypeError):
        return error_for(resp.status, text.strip()[:300] or resp.reason or f"HTTP {resp.status}")


def _server_sent_events(resp: Response) -> Iterator[tuple[str, str]]:
    """(event kind, its data) of each run or step event of a stream."""
    kind, data = "message", []
    for raw in resp.lines():
        line = raw.decode().rstrip("\r\n")
        if line.startswith(":"):
            continue  # a heartbeat
        if line:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data.append(value)
            continue
        if kind in ("run", "step") and data:
            yield kind, "\n".join(data)
        # "overflow": the server dropped this client for falling behind; the caller resumes from the last id.
        kind, data = "message", []


def _pairs(**values: Any) -> list[tuple[str, str]]:
    """Query pairs of the values that are set; booleans spelt as the API reads them."""
    pairs = []
    for key, value in values.items():
        if value is None:
            continue
        pairs.append((key, ("true" if value else "false") if isinstance(value, bool) else str(value)))
    return pairs


def _metric_pair(comparison: str) -> tuple[str, str]:
    """``accuracy>=0.9`` as the query pair ``metric.accuracy>=0.9``: the key holds the operator's first
    characters, the value what follows the ``=`` (``metric.loss<0.2`` has no ``=``: all in the key)."""
    key, eq, value = f"metric.{comparison.strip()}".partition("=")
    return (key, value) if eq else (key, "")
