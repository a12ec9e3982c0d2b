"""deploy/grafana/runledger.json imports into Grafana and asks only for what runledger really has.

PromQL may name only series a real app exports: the names come from scraping `create_app`, set up
for /metrics as the base ConfigMap sets it up, with every source the service registers (ingest, a watching agent against the Kubernetes API double,
the artifact indexer, leadership), parsed with prometheus-client's own parser. SQL may read only the
`v_*` views, which the database itself enforces here: every query runs, with Grafana's macros and
variables filled in the way Grafana fills them, as a role granted SELECT on the views and nothing
else. So a renamed metric, label, view or column fails this file instead of an operator's panels.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from runledger.agent.exposition import ingest_metrics, watch_metrics
from runledger.api import prometheus
from runledger.core.settings import AuthSettings, Settings
from runledger.service import build_app, build_indexer
from tests.deploy.manifests import DEPLOY, ROOT, one, rendered
from tests.support.agent import agent_settings, running_agent, settled
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.kube_double import KubeDouble

DASHBOARD = DEPLOY / "grafana" / "runledger.json"
INPUTS = {"DS_PROMETHEUS": "prometheus", "DS_POSTGRES": "grafana-postgresql-datasource"}
VIEWS = {"v_runs", "v_steps", "v_metrics", "v_pipeline_stats_daily", "v_pipeline_failures_daily"}
# Labels Prometheus attaches to every scraped series (the target's), not runledger's own.
TARGET_LABELS = {"job", "instance", "pod", "namespace", "service", "endpoint", "container"}
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
                   "summary": ("", "_sum", "_count")}  # fmt: skip

METRIC = re.compile(r"\brunledger_[A-Za-z0-9_:]*")
SELECTOR = re.compile(r"\b(runledger_[A-Za-z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
SQL_RELATION = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_.\"]*)", re.IGNORECASE)
GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
TIME_FILTER = re.compile(r"\$__timeFilter\(([^()]+)\)")


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def queries(board: dict[str, Any], plugin: str) -> list[tuple[str, str]]:
    """(where, query text) of every panel target and template variable on datasources of `plugin`."""
    key = "expr" if plugin == "prometheus" else "rawSql"
    found = []
    for panel in all_panels(board):
        for target in panel.get("targets", []):
            if (target.get("datasource") or panel["datasource"])["type"] == plugin:
                found.append((f"panel {panel['title']!r} {target['refId']}", target[key]))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query" and variable["datasource"]["type"] == plugin:
            query = variable["query"]
            found.append((f"variable ${variable['name']}", query["query"] if isinstance(query, dict) else query))
    assert found, f"no {plugin} queries"
    return found


def datasource_refs(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            yield node["datasource"]
        for value in node.values():
            yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


# --- the document -----------------------------------------------------------------------------


def test_the_dashboard_is_importable_with_prometheus_and_postgres_inputs():
    board = dashboard()
    assert board["schemaVersion"] >= 39
    assert board["uid"] and board["title"] and board.get("id") is None
    inputs = {i["name"]: i for i in board["__inputs"]}
    assert {name: i["pluginId"] for name, i in inputs.items()} == INPUTS
    assert all(i["type"] == "datasource" for i in inputs.values())
    required = {(r["type"], r["id"]) for r in board["__requires"]}
    assert {("datasource", plugin) for plugin in INPUTS.values()} <= required
    panel_types = {p["type"] for p in all_panels(board)} - {"row"}
    assert {("panel", t) for t in panel_types} <= required


def test_every_datasource_is_one_of_the_inputs_with_its_plugin_type():
    board = dashboard()
    refs = list(datasource_refs({"panels": board["panels"], "templating": board["templating"]}))
    assert refs
    for ref in refs:
        name = ref["uid"].removeprefix("${").removesuffix("}")
        assert ref["uid"] == f"${{{name}}}" and name in INPUTS, ref
        assert ref["type"] == INPUTS[name], ref
    for panel in all_panels(board):
        if panel["type"] != "row":
            assert panel.get("datasource") and panel["targets"], panel["title"]


def test_panels_have_unique_ids_and_do_not_overlap():
    panels = all_panels(dashboard())
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


# --- PromQL -----------------------------------------------------------------------------------


def deployed_metrics_per_namespace() -> bool:
    """What the base ConfigMap makes of RUNLEDGER_METRICS_PER_NAMESPACE, given its auth mode."""
    data = one(rendered("base"), "ConfigMap", "runledger-config")["data"]
    assert data["RUNLEDGER_AUTH_MODE"] != "none"
    deployed = Settings(auth=AuthSettings(mode=data["RUNLEDGER_AUTH_MODE"], metrics_per_namespace=data.get("RUNLEDGER_METRICS_PER_NAMESPACE")))
    return deployed.auth.metrics_by_namespace


async def exported_series(pool: asyncpg.Pool, settings) -> dict[str, set[str]]:
    """Series name -> label names, from a real app with every part of the service reporting.

    A family with no samples yet (no errors counted, say) still declares its name and type, so its
    series names are derived from the type the way the exposition format names them; its labels are
    unknown and left empty.
    """
    wf = WorkflowBuilder(name="scraped")
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "trainer"
    wf.node("train", "Succeeded", at="2026-01-01T00:01:00Z", startedAt="2026-01-01T00:00:10Z")
    events = [wf.phase("Succeeded").event(), {"type": "ADDED", "object": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow"}}]
    indexer = build_indexer(pool=pool, settings=settings)
    async with KubeDouble() as double:
        double.create("workflows", {**WorkflowBuilder(name="w").phase("Running").obj, "metadata": {"name": "w", "namespace": "ml"}})
        async with running_agent(pool, double, agent_settings(settings, cluster={"kube_watch_pods": False})) as running:
            await settled(running, double)
            app = build_app(settings=settings.updated(auth={"metrics_per_namespace": deployed_metrics_per_namespace()}),
                             pool=pool)  # fmt: skip
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                # Step durations count the steps that finish while the app runs: these finish now.
                ingestor = await ingest(pool, settings, events)
                telemetry = app[prometheus.TELEMETRY]
                telemetry.sources["ingest"] = lambda: ingest_metrics(ingestor)
                telemetry.sources["watch"] = lambda: watch_metrics(running.agent.streams)
                telemetry.sources["indexer"] = lambda: prometheus.indexer_metrics(indexer)
                telemetry.leader = lambda: True
                response = await client.get("/metrics")
                assert response.status == 200
                text = await response.text()
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in SERIES_SUFFIXES.get(family.type, ("",)):
            series.setdefault(family.name + suffix, set())
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


async def test_every_promql_expression_names_only_series_and_labels_the_service_exports(pool, settings):
    series = await exported_series(pool, settings)
    assert {"runledger_events_received_total", "runledger_db_write_seconds_bucket", "runledger_watch_total",
            "runledger_artifact_checks_total", "runledger_leader", "runledger_runs",
            "runledger_step_duration_seconds_bucket"} <= set(series)  # fmt: skip
    assert series["runledger_step_duration_seconds_bucket"], "a step finished while the app ran: its labels are checked"
    problems = []
    for where, expr in queries(dashboard(), "prometheus"):
        names = METRIC.findall(expr)
        if not names:
            problems.append(f"{where}: names no runledger metric: {expr}")
        problems += [f"{where}: {name} is not exported" for name in names if name not in series]
        for name, matchers in SELECTOR.findall(expr):
            known = series.get(name)
            for label, _, _ in MATCHER.findall(matchers):
                # A family without samples in the scrape has unknown labels; only known ones are checked.
                if known and label not in TARGET_LABELS and label not in known:
                    problems.append(f"{where}: {name} has no label {label!r} (it has {sorted(known)})")
    assert not problems, "\n".join(problems)


def test_watch_happenings_the_dashboard_selects_are_ones_the_watch_counts():
    counted = set(re.findall(r'counts\["(\w+)"\]', (ROOT / "runledger" / "agent" / "watching.py").read_text()))
    assert {"gone", "lists", "errors", "events"} <= counted
    selected = set()
    for _, expr in queries(dashboard(), "prometheus"):
        for name, matchers in SELECTOR.findall(expr):
            for label, op, value in MATCHER.findall(matchers):
                if name == "runledger_watch_total" and label == "what":
                    assert op in ("=", "=~"), expr
                    selected.update(value.split("|"))
    assert "gone" in selected and selected <= counted, selected - counted


# --- SQL --------------------------------------------------------------------------------------


def test_sql_reads_only_the_views():
    for where, sql in queries(dashboard(), "grafana-postgresql-datasource"):
        relations = {r.strip('"') for r in SQL_RELATION.findall(sql)}
        assert relations and relations <= VIEWS, f"{where} reads {relations - VIEWS or 'nothing'}"


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def fill_in(sql: str, variables: dict[str, Any], values: dict[str, list[str]]) -> str:
    """`sql` as Grafana's SQL datasources send it: $__timeFilter(col) becomes a BETWEEN on literal
    times; a multi-value or include-All variable becomes a comma-separated list of quoted literals;
    a single-value one is only escaped (the query supplies the quotes)."""
    sql = TIME_FILTER.sub(lambda m: f"{m.group(1)} BETWEEN '2000-01-01T00:00:00Z' AND '2100-01-01T00:00:00Z'", sql)

    def variable(match: re.Match) -> str:
        name = next(g for g in match.groups() if g)
        assert name in variables, f"unknown variable ${name}"
        chosen = values[name]
        if variables[name].get("multi") or variables[name].get("includeAll"):
            return ",".join(sql_literal(v) for v in chosen)
        [value] = chosen
        return value.replace("'", "''")

    filled = GRAFANA_VARIABLE.sub(variable, sql)
    assert "$" not in filled, f"unreplaced macro in {filled}"
    return filled


@contextlib.asynccontextmanager
async def view_only_role(conn: asyncpg.Connection) -> AsyncIterator[Callable[[str], Awaitable[list[asyncpg.Record]]]]:
    """A fetch that runs as a role granted SELECT on the views and nothing else (as deploy/README.md advises)."""
    role = f"grafana_{uuid.uuid4().hex[:12]}"
    await conn.execute(f"CREATE ROLE {role} NOLOGIN")
    await conn.execute(f"GRANT SELECT ON {', '.join(sorted(VIEWS))} TO {role}")

    async def fetch(sql: str) -> list[asyncpg.Record]:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL ROLE {role}")
            return await conn.fetch(sql)

    try:
        yield fetch
    finally:
        await conn.execute(f"DROP OWNED BY {role}")
        await conn.execute(f"DROP ROLE {role}")


async def test_every_sql_query_runs_on_the_views_alone_as_a_role_granted_only_the_views(pool, conn, settings):
    runs = []
    for name, phase, pipeline in (("a", "Succeeded", "trainer"), ("b", "Failed", "trainer"), ("c", "Succeeded", None)):
        wf = WorkflowBuilder(name=name)
        if pipeline:
            wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = pipeline
        wf.node(f"{name}-1", phase, at="2026-01-01T00:02:00Z", startedAt="2026-01-01T00:00:10Z",
                outputs={"exitCode": "1" if phase == "Failed" else "0"})  # fmt: skip
        runs.append(wf.phase(phase).event())
    await ingest(pool, settings, runs)

    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    # A quote in a value proves the escaping; the rest select the ingested runs.
    values = {"namespace": ["ml", "o'neil"], "pipeline": ["trainer", "(none)"], "metric": ["it's accuracy"],
              "job": ["runledger"], "template": ["t"]}  # fmt: skip
    rows = {}
    async with view_only_role(conn) as fetch:
        for where, sql in queries(board, "grafana-postgresql-datasource"):
            try:
                rows[where] = await fetch(fill_in(sql, variables, values))
            except asyncpg.PostgresError as exc:
                pytest.fail(f"{where}: {type(exc).__name__}: {exc}\n{sql}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await fetch("SELECT 1 FROM runs")

    assert {r["name"] for r in rows["panel 'Recent runs' A"]} == {"a", "b", "c"}
    assert {(r["pipeline"], r["failed"], r["finished runs"]) for r in rows["panel 'Failure rate by pipeline' A"]} == {
        ("trainer", 1, 2), ("(none)", 0, 1)
    }
    assert [(r["step"], r["exit code"]) for r in rows["panel 'Failed steps' A"]] == [("b.b-1", 1)]
    assert [r[0] for r in rows["variable $pipeline"]] == ["(none)", "trainer"]


async def test_the_readme_points_at_the_dashboard_and_its_example_queries_run_on_the_views(conn):
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "deploy/grafana/runledger.json" in readme
    section = readme[readme.index("## SQL views for BI tools") :]
    examples = [block for block in re.findall(r"```sql\n(.*?)```", section, re.DOTALL) if "CREATE ROLE" not in block]
    assert examples
    async with view_only_role(conn) as fetch:
        for block in examples:
            for statement in filter(str.strip, block.split(";")):
                await fetch(statement)
