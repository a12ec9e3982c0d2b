"""What each query command asks the server and how it shows the answer.

Each handler takes the client, the parsed arguments and a ``Printer``; json and yaml print the API's
own shapes (a list command prints the list of its items), table and wide print columns chosen for a
person. Run arguments accept a run id, a KFP run id or ``namespace/name`` (``RunledgerClient.find_run``).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from runledger.client.decoding import dump
from runledger.client.models import RunOut, StepOut
from runledger.client.output import (
    Column,
    age,
    as_json,
    as_yaml,
    between,
    duration,
    paint_phase,
    render_table,
    size,
)
from runledger.client.session import RunledgerClient

PAGE = 500


class UsageError(Exception):
    """Arguments that cannot work together; the message says what to change."""


class Printer(NamedTuple):  # a NamedTuple rather than a dataclass: built at import without compiling methods
    output: str
    colour: bool
    width: int | None = None

    @property
    def structured(self) -> bool:
        return self.output in ("json", "yaml")

    @property
    def wide(self) -> bool:
        return self.output == "wide"

    def data(self, value: Any) -> None:
        print(as_json(value) if self.output == "json" else as_yaml(value), flush=True)

    def table(self, columns: list[Column], rows: list[list[str]], *, header: bool = True) -> None:
        if rows or header:
            print(render_table(columns, rows, width=self.width, colour=self.colour, header=header), flush=True)

    def fields(self, pairs: list[tuple[str, str]]) -> None:
        width = max(len(k) for k, _ in pairs) + 1
        for key, value in pairs:
            print(f"{key + ':':<{width}} {value}")


# --- runs ------------------------------------------------------------------------------------------


def run_columns(*, wide: bool) -> list[Column]:
    columns = [Column("NAMESPACE"), Column("NAME"), Column("PHASE", phase=True), Column("AGE"), Column("DURATION"),
               Column("PIPELINE", shrink=True)]  # fmt: skip
    if wide:
        columns += [Column("ID"), Column("KFP RUN ID", shrink=True), Column("STEPS"), Column("MESSAGE", shrink=True)]
    return columns


def run_row(run: RunOut, *, wide: bool, now: datetime | None = None) -> list[str]:
    row = [run.namespace, run.name, run.phase or "-", age(run.created_at, now=now),
           between(run.started_at, run.finished_at, now=now), run.pipeline_name or "-"]  # fmt: skip
    if wide:
        total = sum(run.step_counts.values())
        steps = f"{run.step_counts.get('Succeeded', 0)}/{total}" if total else "-"
        message = " ".join((run.message or "-").split())
        row += [run.id, run.kfp_run_id or "-", steps, message]
    return row


def _run_filters(args: argparse.Namespace) -> dict[str, Any]:
    params = {}
    for pair in args.param:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise UsageError(f"--param {pair!r} is not NAME=VALUE (e.g. --param lr=0.1)")
        params[name] = value
    return dict(namespace=args.namespace, phase=args.phase, pipeline=args.pipeline, labels=args.label, params=params,
                metrics=args.metric, sort=args.sort)  # fmt: skip


def list_runs(client: RunledgerClient, args: argparse.Namespace, out: Printer) -> None:
    filters = _run_filters(args)
    if args.limit < 0:
        raise UsageError("--limit must be 0 (all runs) or more")
    if args.watch and args.metric:
        raise UsageError("--watch follows phase changes, which --metric cannot filter; leave one of them out")
    runs: list[RunOut] = []
    for run in client.iter_runs(page_size=min(args.limit or PAGE, PAGE), **filters):
        runs.append(run)
        if len(runs) == args.limit:
            break
    if out.structured:
        out.data(runs)
    else:
        out.table(run_columns(wide=out.wide), [run_row(r, wide=out.wide) for r in runs])
    if args.watch:
        _watch_runs(client, filters, out)


def _watch_runs(client: RunledgerClient, filters: dict[str, Any], out: Printer) -> None:
    namespaces = [filters["namespace"]] if filters["namespace"] else []
    for kind, event in client.events(namespaces=namespaces):
        if kind != "run":
            continue
        run = client.get_run(event.run_id)
        if not _matches(run, filters):
            continue
        if out.structured:
            print(dump(run), flush=True)  # one object a line, as kubectl -w -o json
        else:
            out.table(run_columns(wide=out.wide), [run_row(run, wide=out.wide)], header=False)


def _matches(run: RunOut, filters: dict[str, Any]) -> bool:
    """The listing's filters, applied to one run the event feed named (the feed filters by namespace only)."""
    if filters["phase"] and run.phase != filters["phase"]:
        return False
    if filters["pipeline"] and run.pipeline_name != filters["pipeline"]:
        return False
    if any(run.parameters.get(k) != v for k, v in filters["params"].items()):
        return False
    for selector in filters["labels"]:
        key, eq, value = selector.removeprefix("!").partition("=")
        if selector.startswith("!"):
            if key in run.labels:
                return False
        elif key not in run.labels or (eq and run.labels[key] != value):
            return False
    return True


def get_run(client: RunledgerClient, args: argparse.Namespace, out: Printer) -> None:
    run = client.find_run(args.run)
    steps = client.list_steps(run.id)
    if out.structured:
        out.data({"run": run, "steps": steps})
        return
    out.fields([
        ("Name", f"{run.namespace}/{run.name}"), ("ID", run.id), ("KFP run ID", run.kfp_run_id or "-"),
        ("Pipeline", run.pipeline_name or (run.kfp and run.kfp.pipeline_name) or "-"),
        *_kfp_fields(run),
        ("Phase", paint_phase(run.phase or "-", colour=out.colour)),
        ("Created", _time(run.created_at)), ("Started", _time(run.started_at)), ("Finished", _time(run.finished_at)),
        ("Duration", between(run.started_at, run.finished_at)),
        *([("Message", run.message)] if run.message else []),
        *([("Parameters", ", ".join(f"{k}={v}" for k, v in sorted(run.parameters.items())))] if run.parameters else []),
        *([("Metrics", ", ".join(f"{m.name}={m.value:g}" for m in run.metrics if m.is_run_value))] if run.metrics else []),
    ])  # fmt: skip
    print()
    columns = [Column("STEP"), Column("PHASE", phase=True), Column("DURATION"), Column("POD", shrink=True),
               Column("NODE", shrink=True), Column("EXIT")]  # fmt: skip
    if out.wide:
        columns += [Column("RESTARTS"), Column("REASON"), Column("IMAGE", shrink=True), Column("MESSAGE", shrink=True)]
    out.table(columns, [_step_row(step, prefix, wide=out.wide) for prefix, step in step_tree(steps)])


def _kfp_fields(run: RunOut) -> list[tuple[str, str]]:
    """What KFP's database says of the run, when it was imported from there."""
    kfp = run.kfp
    if kfp is None:
        return []
    experiment = kfp.experiment_name or kfp.experiment_id
    return [("KFP name", kfp.display_name or "-"), ("Experiment", experiment or "-"),
            ("KFP storage", kfp.storage_state or "-"),
            *([("KFP manifest", "none kept: the run's steps are unknown")] if not kfp.has_manifest else [])]  # fmt: skip


def step_tree(steps: list[StepOut]) -> list[tuple[str, StepOut]]:
    """The steps in tree order with their branch prefix (``├─ ``, ``│  └─ ``…), as ``argo get`` draws them.

    A step hangs under the retry node it is an attempt of, else under its boundary (the DAG or steps
    template it runs in), else under its first parent; a DAG's tasks are siblings, not a chain."""
    by_id = {s.id: s for s in steps}
    children: dict[str | None, list[StepOut]] = {}
    for step in steps:
        retry = next((p for p in step.parents if p in by_id and by_id[p].type == "Retry"), None)
        boundary = step.boundary_id if step.boundary_id in by_id and step.boundary_id != step.id else None
        parent = retry or boundary or next((p for p in step.parents if p in by_id and p != step.id), None)
        children.setdefault(parent, []).append(step)
    order = lambda s: (s.started_at is None, s.started_at or datetime.min, s.name)
    lines: list[tuple[str, StepOut]] = []
    seen: set[str] = set()

    def walk(parent: str | None, indent: str) -> None:
        kids = sorted(children.get(parent, []), key=order)
        for i, step in enumerate(kids):
            if step.id in seen:
                continue
            seen.add(step.id)
            last = i == len(kids) - 1
            lines.append((indent + ("└─ " if last else "├─ ") if parent is not None else "", step))
            walk(step.id, (indent + ("   " if last else "│  ")) if parent is not None else "")

    walk(None, "")
    for step in sorted(steps, key=order):  # anything a cycle kept out of reach
        if step.id not in seen:
            seen.add(step.id)
            lines.append(("", step))
    return lines


def _step_row(step: StepOut, prefix: str, *, wide: bool) -> list[str]:
    pod = step.pod
    exit_code = pod.exit_code if pod and pod.exit_code is not None else step.exit_code
    row = [prefix + (step.display_name or step.name), step.phase or "-", between(step.started_at, step.finished_at),
           (pod.pod_name if pod else step.pod_name) or "-", (pod.host_node if pod else None) or step.host_node or "-",
           "-" if exit_code is None else str(exit_code)]  # fmt: skip
    if wide:
        row += [str(pod.restart_count) if pod else "-", (pod.termination_reason if pod else None) or "-",
                (pod.image if pod else None) or "-", " ".join((step.message or "-").split())]  # fmt: skip
    return row


def _time(at: datetime | None) -> str:
    return "-" if at is None else f"{at.isoformat(timespec='seconds')} ({age(at)} ago)"


# --- lineage, artifacts, compare -------------------------------------------------------------------


def _node(client: RunledgerClient, node: str) -> str:
    if node.split(":", 1)[0] in ("run", "step", "artifact"):
        return node
    return f"run:{client.find_run(node).id}"


def lineage(client: RunledgerClient, args: argparse.Namespace, out: Printer) -> None:
    graph = client.lineage(_node(client, args.node), direction=args.direction, depth=args.depth,
                                 limit=args.limit)  # fmt: skip
    if out.structured:
        out.data(graph)
        return
    label = {}
    rows = []
    for n in sorted(graph.nodes, key=lambda n: (n.depth, n.kind, n.id)):
        if n.redacted:
            label[n.id] = f"({n.kind} not readable)"
            rows.append([n.kind, label[n.id], "-", "-", str(n.depth)])
        elif n.kind == "step":
            label[n.id] = f"{n.run_name}/{n.display_name or n.name}"
            rows.append(["step", label[n.id], n.phase or "-", n.namespace, str(n.depth)])
        else:
            label[n.id] = n.uri
            rows.append(["artifact", n.uri, n.state, size(n.size), str(n.depth)])
    out.table([Column("KIND"), Column("NODE", shrink=True), Column("PHASE/STATE", phase=True),
               Column("NAMESPACE/SIZE"), Column("DEPTH")], rows)  # fmt: skip
    if graph.edges:
        print()
        out.table([Column("FROM", shrink=True), Column("TO", shrink=True), Column("KIND"), Column("NAMES", shrink=True)],
                  [[label.get(e.source, e.source), label.get(e.target, e.target), e.kind, ",".join(e.names) or "-"]
                   for e in graph.edges])  # fmt: skip
    if graph.truncated:
        print("(the graph was cut at the node limit: pass --limit or a smaller --depth)", file=sys.stderr)


def list_artifacts(client: RunledgerClient, args: argparse.Namespace, out: Printer) -> None:
    if args.limit < 0:
        raise UsageError("--limit must be 0 (all artifacts) or more")
    if args.step and not args.run:
        raise UsageError("--step names a step of a run: give --run as well")
    run = client.find_run(args.run).id if args.run else None
    filters = dict(uri_prefix=args.uri_prefix, run=run, step=args.step, name=args.name, direction=args.direction,
                   state=args.state)  # fmt: skip
    artifacts = []
    for artifact in client.iter_artifacts(page_size=min(args.limit or PAGE, PAGE), **filters):
        artifacts.append(artifact)
        if len(artifacts) == args.limit:
            break
    if out.structured:
        out.data(artifacts)
        return
    columns = [Column("ID"), Column("STATE"), Column("SIZE"), Column("URI", shrink=True)]
    if out.wide:
        columns += [Column("ETAG", shrink=True), Column("CONTENT TYPE", shrink=True), Column("CHECKED"),
                    Column("ERROR", shrink=True)]  # fmt: skip
    rows = []
    for a in artifacts:
        row = [str(a.id), a.state, size(a.size), a.uri]
        if out.wide:
            row += [a.etag or "-", a.content_type or "-", age(a.checked_at), a.error or "-"]
        rows.append(row)
    out.table(columns, rows)


def get_artifact(client: RunledgerClient, args: argparse.Namespace, out: Printer) -> None:
    a = client.get_artifact(args.ref)
    if out.structured:
        out.data(a)
        return
    out.fields([("ID", str(a.id)), ("URI", a.uri), ("State", a.state), ("Size", size(a.size)), ("ETag", a.etag or "-"),
                ("Content type", a.content_type or "-"), ("Checked", _time(a.checked_at)),
                *([("Error", a.error)] if a.error else []),
                *([("Metrics", ", ".join(f"{m.name}={m.value:g}" for m in a.metrics))] if a.metrics else [])])  # fmt: skip
    for title, events in (("PRODUCED BY", a.produced_by), ("CONSUMED BY", a.consumed_by)):
        if events:
            print()
            out.table([Column(title), Column("STEP", shrink=True), Column("PHASE", phase=True), Column("AS")],
                      [[f"{e.namespace}/{e.run_name}", e.step_name or e.step_id, e.step_phase or "-", e.name]
                       for e in events])  # fmt: skip


def compare(client: RunledgerClient, args: argparse.Namespace, out: Printer) -> None:
    ids = [client.find_run(ref).id for ref in args.runs]
    comparison = client.compare_runs(ids)
    if out.structured:
        out.data(comparison)
        return
    runs = comparison.runs
    columns = [Column("")] + [Column(r.name, shrink=True) for r in runs]
    rows = [["namespace", *(r.namespace for r in runs)], ["phase", *(r.phase or "-" for r in runs)],
            ["duration", *(between(r.started_at, r.finished_at) for r in runs)]]  # fmt: skip
    for name, values in sorted(comparison.parameters.items()):
        rows.append([f"param {name}", *(_cell(values.get(r.id)) for r in runs)])
    for name, values in sorted(comparison.metrics.items()):
        rows.append([f"metric {name}", *(_cell(values.get(r.id)) for r in runs)])
    out.table(columns, rows)


def _cell(value: str | float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else " ".join(value.split())


# --- stats -----------------------------------------------------------------------------------------

_AGE = re.compile(r"^(\d{1,6})([mhdw])$")
_AGE_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def when(value: str | None, *, flag: str, now: datetime) -> datetime | None:
    """An RFC 3339 time, or an age (30m, 24h, 7d, 2w) before `now`."""
    if value is None:
        return None
    if match := _AGE.match(value.strip()):
        return now - int(match[1]) * _AGE_UNITS[match[2]]
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag}: {value!r} is neither a time (2026-03-01T00:00:00Z) nor an age (24h, 7d)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def stats(client: RunledgerClient, args: argparse.Namespace, out: Printer) -> None:
    now = datetime.now(timezone.utc)
    answer = client.pipeline_stats(
        args.pipeline, since=when(args.since, flag="--since", now=now), until=when(args.until, flag="--until", now=now),
        namespace=args.namespace,
    )  # fmt: skip
    if out.structured:
        out.data(answer)
        return
    first = "PIPELINE" if args.pipeline is None else "TEMPLATE"
    columns = [Column(first, shrink=True), Column("RUNS" if args.pipeline is None else "COUNT"), Column("OK%"),
               Column("FAILED"), Column("TOP CAUSE", shrink=True), Column("P50"), Column("P95"), Column("QUEUE P95"),
               Column("FLAKY")]  # fmt: skip
    if out.wide:
        columns += [Column("RETRIES"), Column("CPU H"), Column("GPU H"), Column("COST")]
    rows = []
    for g in answer.groups:
        name = g.name or ("(no pipeline)" if args.pipeline is None else "(the runs)")
        top = g.failures[0] if g.failures else None
        row = [name, str(g.count), "-" if g.success_rate is None else f"{100 * g.success_rate:.1f}", str(g.failed),
               "-" if top is None else f"{top.cause}{' ' + top.detail if top.detail else ''} ({top.count})",
               duration(g.duration and g.duration.p50_seconds), duration(g.duration and g.duration.p95_seconds),
               duration(g.queue and g.queue.p95_seconds), str(g.flaky)]  # fmt: skip
        if out.wide:
            r = g.resources
            row += [str(g.retries), "-" if r is None else f"{r.cpu_seconds / 3600:.2f}",
                    "-" if r is None else f"{r.gpu_seconds / 3600:.2f}", "-" if g.cost is None else f"{g.cost.total:.2f}"]  # fmt: skip
        rows.append(row)
    out.table(columns, rows)
