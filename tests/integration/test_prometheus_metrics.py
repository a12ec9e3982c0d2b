"""GET /metrics: the exposition parses with prometheus-client's own parser and tells the truth."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from runledger.agent.exposition import ingest_metrics, watch_metrics
from runledger.api import prometheus
from runledger.service import build_app
from tests.support.agent import agent_settings, running_agent, settled
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.kube_double import KubeDouble
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


async def scrape(app) -> dict[str, list]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        return await scrape_with(client)


async def scrape_with(client: TestClient) -> dict[str, list]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list, name: str, **labels) -> float:
    found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


async def test_run_figures_match_the_database_and_agent_figures_match_the_ingestor(pool, conn, settings):
    app = build_app(settings=settings, pool=pool)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        events = [{"type": "ADDED", "object": load(p)} for p in fixture_files()]
        ingestor = await ingest(pool, settings, events)
        app[prometheus.TELEMETRY].sources["ingest"] = lambda: ingest_metrics(ingestor)
        families = await scrape_with(client)

    for row in await conn.fetch("SELECT namespace, phase, count(*) AS n FROM runs GROUP BY 1, 2"):
        assert value(families["runledger_runs"], "runledger_runs", namespace=row["namespace"], phase=row["phase"] or "Unknown") == row["n"]
    finished = await conn.fetch(
        "SELECT coalesce(template, '') AS t, count(*) AS n FROM steps"
        " WHERE type = 'Pod' AND finished_at IS NOT NULL AND started_at IS NOT NULL"
        " AND phase IN ('Succeeded', 'Failed', 'Error') GROUP BY 1"
    )
    assert finished, "the fixtures hold finished Pod steps"
    for row in finished:
        assert value(families["runledger_step_duration_seconds"], "runledger_step_duration_seconds_count", template=row["t"]) == row["n"]
        assert value(families["runledger_step_duration_seconds"], "runledger_step_duration_seconds_bucket", template=row["t"], le="+Inf") == row["n"]

    assert value(families["runledger_events_received"], "runledger_events_received_total", resource="workflow", type="ADDED") == len(events)
    assert value(families["runledger_db_write_seconds"], "runledger_db_write_seconds_count") == ingestor.stats.batches > 0
    assert value(families["runledger_run_states"], "runledger_run_states_total", resource="workflow", outcome="applied") == len(events)
    assert value(families["runledger_ingest_queue_depth"], "runledger_ingest_queue_depth") == 0
    artifacts = await conn.fetchval("SELECT count(*) FROM artifacts")
    assert value(families["runledger_artifact_index_backlog"], "runledger_artifact_index_backlog", due="now") == artifacts > 0


async def test_step_durations_fall_into_the_right_buckets(pool, settings):
    app = build_app(settings=settings, pool=pool)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        wf = WorkflowBuilder(name="timed")
        wf.node("quick", "Succeeded", at="2026-01-01T00:00:10Z", startedAt="2026-01-01T00:00:07Z")
        wf.node("slow", "Succeeded", at="2026-01-01T00:10:00Z", startedAt="2026-01-01T00:00:00Z")
        await ingest(pool, settings, [wf.phase("Succeeded").event()])
        samples = (await scrape_with(client))["runledger_step_duration_seconds"]
    bucket = lambda le: value(samples, "runledger_step_duration_seconds_bucket", template="t", le=le)  # noqa: E731
    assert (bucket("1.0"), bucket("5.0"), bucket("300.0"), bucket("600.0"), bucket("+Inf")) == (0, 1, 1, 2, 2)
    assert value(samples, "runledger_step_duration_seconds_sum", template="t") == 603


async def test_step_durations_count_what_finished_since_start_and_each_finish_once(pool, settings, monkeypatch):
    monkeypatch.setattr(prometheus, "TRANSITIONS_PER_READ", 3)  # several reads per scrape, and a summary-only one
    before = WorkflowBuilder(name="before")
    before.node("early", "Succeeded", at="2026-01-01T00:00:10Z", startedAt="2026-01-01T00:00:00Z")
    await ingest(pool, settings, [before.phase("Succeeded").event()])  # finished before the process started
    app = build_app(settings=settings, pool=pool)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert "runledger_step_duration_seconds_count" not in str(await scrape_with(client))
        wf = WorkflowBuilder(name="later")
        for i in range(4):
            wf.node(f"n{i}", "Running", startedAt="2026-01-01T00:00:00Z")
        await ingest(pool, settings, [wf.phase("Running").event()])
        for i in range(4):
            wf.node(f"n{i}", "Succeeded", at=f"2026-01-01T00:00:0{i + 1}Z", startedAt="2026-01-01T00:00:00Z")
        await ingest(pool, settings, [wf.phase("Succeeded").event()])
        first = (await scrape_with(client))["runledger_step_duration_seconds"]
        again = (await scrape_with(client))["runledger_step_duration_seconds"]
    assert value(first, "runledger_step_duration_seconds_count", template="t") == 4
    assert value(first, "runledger_step_duration_seconds_sum", template="t") == 1 + 2 + 3 + 4
    assert first == again  # a finish is counted once


async def test_watch_streams_report_lists_and_open_watches(pool, settings):
    async with KubeDouble() as double:
        double.create("workflows", {**WorkflowBuilder(name="w").phase("Running").obj, "metadata": {"name": "w", "namespace": "ml"}})
        async with running_agent(pool, double, agent_settings(settings, cluster={"kube_watch_pods": False})) as running:
            await settled(running, double)
            app = build_app(settings=settings, pool=pool)
            app[prometheus.TELEMETRY].sources["watch"] = lambda: watch_metrics(running.agent.streams)
            app[prometheus.TELEMETRY].leader = lambda: True
            families = await scrape(app)
    stream = running.agent.streams[0].state.name
    assert value(families["runledger_watch"], "runledger_watch_total", stream=stream, what="lists") == 1
    assert value(families["runledger_watch_connected"], "runledger_watch_connected", stream=stream) == 1
    assert value(families["runledger_watch_synced"], "runledger_watch_synced", stream=stream) == 1
    for reason in ("timeout", "gone", "throttled", "dropped", "error"):  # exported before the first restart
        assert value(families["runledger_watch_restarts"], "runledger_watch_restarts_total", stream=stream, reason=reason) == 0
    assert value(families["runledger_leader"], "runledger_leader") == 1
