"""/metrics needs no token, so with auth on it names no namespace and no template unless the operator
opts in (RUNLEDGER_METRICS_PER_NAMESPACE); without auth, or opted in, runs are by namespace and phase
and step durations by template."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from runledger.service import build_app
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest

GRANTS = [{"token": "admin-0123456789abcdef", "user": "admin", "namespaces": ["*"]}]


async def scraped_text(pool, settings) -> str:
    wf = WorkflowBuilder(name="secret-project", namespace="team-secret")
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "acquisition-model"
    wf.node("train", "Succeeded", at="2026-01-01T00:01:00Z", startedAt="2026-01-01T00:00:10Z", templateName="acquisition-train")
    async with TestClient(TestServer(build_app(settings=settings, pool=pool), host="127.0.0.1")) as client:
        await ingest(pool, settings, [wf.phase("Succeeded").event()])
        response = await client.get("/metrics")
        assert response.status == 200
        return await response.text()


def samples(text: str, family: str) -> list:
    return next(f.samples for f in text_string_to_metric_families(text) if f.name == family)


def static(settings, **groups):
    auth = {"mode": "static", "static_tokens": SecretStr(json.dumps(GRANTS))}
    return settings.updated(**{**groups, "auth": auth | groups.get("auth", {})})


async def test_with_auth_on_metrics_name_no_namespace_or_template_by_default(pool, settings):
    text = await scraped_text(pool, static(settings))
    assert "team-secret" not in text and "acquisition" not in text
    runs = samples(text, "runledger_runs")
    assert [(s.labels, s.value) for s in runs] == [({"phase": "Succeeded"}, 1)]
    counts = [s for s in samples(text, "runledger_step_duration_seconds") if s.name.endswith("_count")]
    assert [(s.labels, s.value) for s in counts] == [({}, 1)]


@pytest.mark.parametrize("auth", ["none", "static, opted in"])
async def test_without_auth_or_opted_in_metrics_are_per_namespace_and_template(pool, settings, auth):
    configured = settings if auth == "none" else static(settings, auth={"metrics_per_namespace": True})
    text = await scraped_text(pool, configured)
    runs = samples(text, "runledger_runs")
    assert [(s.labels, s.value) for s in runs] == [({"namespace": "team-secret", "phase": "Succeeded"}, 1)]
    counts = [s for s in samples(text, "runledger_step_duration_seconds") if s.name.endswith("_count")]
    assert [s.labels for s in counts] == [{"template": "acquisition-train"}]
