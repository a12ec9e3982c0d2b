"""Real responses of every endpoint, over real HTTP from seeded data, match the OpenAPI document."""

from __future__ import annotations

import pytest
import requests

from runledger.api.openapi import EVENT_STREAM, build_spec
from tests.support.live_api import seeded_api
from tests.support.openapi_checks import assert_matches_spec

SPEC = build_spec()

# (path template, URL with {placeholders} filled from the seeded data, expected status)
CASES = [
    ("/healthz", "/healthz", 200),
    ("/readyz", "/readyz", 200),
    ("/metrics", "/metrics", 200),
    ("/openapi.json", "/openapi.json", 200),
    ("/api/v1/whoami", "/api/v1/whoami", 200),
    ("/api/v1/checks/runs", "/api/v1/checks/runs?phase=failed&metric.accuracy>=0.9&sort=-duration", 200),
    ("/api/v1/checks/runs", "/api/v1/checks/runs?sort=-metric.&bogus=1", 200),
    ("/api/v1/checks/lineage", "/api/v1/checks/lineage?node=run:uid-gamma&depth=3", 200),
    ("/api/v1/checks/lineage", "/api/v1/checks/lineage?node=bogus", 200),
    ("/api/v1/runs", "/api/v1/runs", 200),
    ("/api/v1/runs", "/api/v1/runs?limit=3&count=true&sort=-duration", 200),
    ("/api/v1/runs", "/api/v1/runs?param.lr=0.1&metric.accuracy>=0.9&sort=-metric.accuracy", 200),
    ("/api/v1/runs", "/api/v1/runs?metric.accuracy<0.8&label=pipeline/runid&label=!nope", 200),
    ("/api/v1/runs", "/api/v1/runs?namespace={namespace}&created_after=2000-01-01T00:00:00Z&deleted=false", 200),
    ("/api/v1/runs", "/api/v1/runs?limit=0", 400),
    ("/api/v1/runs", "/api/v1/runs?bogus=1", 400),
    ("/api/v1/runs", "/api/v1/runs?sort=-metric.", 400),
    ("/api/v1/runs/compare", "/api/v1/runs/compare?ids=uid-alpha,uid-gamma,nope", 200),
    ("/api/v1/runs/compare", "/api/v1/runs/compare?ids=,", 400),
    ("/api/v1/runs/{run_id}", "/api/v1/runs/{run}", 200),
    ("/api/v1/runs/{run_id}", "/api/v1/runs/uid-gamma", 200),
    ("/api/v1/runs/{run_id}", "/api/v1/runs/nope", 404),
    ("/api/v1/runs/{run_id}/steps", "/api/v1/runs/{run}/steps", 200),
    ("/api/v1/runs/{run_id}/steps", "/api/v1/runs/uid-reader/steps", 200),
    ("/api/v1/runs/{run_id}/steps", "/api/v1/runs/nope/steps", 404),
    ("/api/v1/runs/{run_id}/steps/{step}/logs", "/api/v1/runs/uid-logged/steps/logged-train/logs", 200),
    ("/api/v1/runs/{run_id}/steps/{step}/logs", "/api/v1/runs/uid-logged/steps/train/logs?offset=-3", 200),
    ("/api/v1/runs/{run_id}/steps/{step}/logs", "/api/v1/runs/uid-logged/steps/logged-nolog/logs", 404),
    ("/api/v1/runs/{run_id}/steps/{step}/logs", "/api/v1/runs/nope/steps/x/logs", 404),
    ("/api/v1/runs/{run_id}/steps/{step}/logs", "/api/v1/runs/uid-logged/steps/train/logs?limit=0", 400),
    ("/api/v1/runs/{run_id}/timeline", "/api/v1/runs/{run}/timeline", 200),
    ("/api/v1/runs/{run_id}/timeline", "/api/v1/runs/nope/timeline", 404),
    ("/api/v1/runs/{run_id}/metrics", "/api/v1/runs/uid-gamma/metrics", 200),
    ("/api/v1/runs/{run_id}/metrics", "/api/v1/runs/nope/metrics", 404),
    ("/api/v1/pipelines/{pipeline}/metrics", "/api/v1/pipelines/{pipeline}/metrics?name=accuracy", 200),
    ("/api/v1/pipelines/{pipeline}/metrics", "/api/v1/pipelines/{pipeline}/metrics", 400),
    ("/api/v1/stats/pipelines", "/api/v1/stats/pipelines?since=2020-01-01T00:00:00Z", 200),
    ("/api/v1/stats/pipelines", "/api/v1/stats/pipelines?since=2030-01-01T00:00:00Z&until=2029-01-01T00:00:00Z", 400),
    ("/api/v1/stats/pipelines/{pipeline}/templates",
     "/api/v1/stats/pipelines/{pipeline}/templates?since=2020-01-01T00:00:00Z", 200),
    ("/api/v1/artifacts", "/api/v1/artifacts", 200),
    ("/api/v1/artifacts", "/api/v1/artifacts?name=model&direction=output&state=indexed&limit=2", 200),
    ("/api/v1/artifacts", "/api/v1/artifacts?uri_prefix=s3://mlpipeline/runs/&run=uid-gamma", 200),
    ("/api/v1/artifacts", "/api/v1/artifacts?step=x", 400),
    ("/api/v1/artifacts", "/api/v1/artifacts?id={artifact_id}", 200),
    ("/api/v1/artifacts", "/api/v1/artifacts?uri={metrics_uri}", 200),
    ("/api/v1/artifacts", "/api/v1/artifacts?id=0", 400),
    ("/api/v1/artifacts/{ref}", "/api/v1/artifacts/{artifact_id}", 200),
    ("/api/v1/artifacts/{ref}", "/api/v1/artifacts/{metrics_uri}", 200),
    ("/api/v1/artifacts/{ref}", "/api/v1/artifacts/99999999", 404),
    ("/api/v1/artifacts/{artifact_id}/preview", "/api/v1/artifacts/{artifact_id}/preview", 200),
    ("/api/v1/artifacts/{artifact_id}/preview", "/api/v1/artifacts/99999999/preview", 404),
    ("/api/v1/artifacts/{ref}", "/api/v1/artifacts/not-a-ref", 400),
    ("/api/v1/artifacts/{ref}", "/api/v1/artifacts/%C2%B2", 400),
    ("/api/v1/lineage", "/api/v1/lineage?node=run:uid-gamma", 200),
    ("/api/v1/lineage", "/api/v1/lineage?node=artifact:{artifact_id}&direction=downstream&depth=3", 200),
    ("/api/v1/lineage", "/api/v1/lineage?node=step:uid-reader/reader-eval&direction=upstream&limit=5", 200),
    ("/api/v1/lineage", "/api/v1/lineage?node=run:{run}", 200),
    ("/api/v1/lineage", "/api/v1/lineage?node=run:nope", 404),
    ("/api/v1/lineage", "/api/v1/lineage?node=bogus", 400),
    ("/apis/v1beta1/healthz", "/apis/v1beta1/healthz", 200),
    ("/apis/v2beta1/healthz", "/apis/v2beta1/healthz", 200),
    ("/apis/v1beta1/runs", "/apis/v1beta1/runs?page_size=5&sort_by=created_at%20desc", 200),
    ("/apis/v1beta1/runs", "/apis/v1beta1/runs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=ml", 200),
    ("/apis/v1beta1/runs", "/apis/v1beta1/runs?bogus=1", 400),
    ("/apis/v1beta1/runs/{run_id}", "/apis/v1beta1/runs/kfp-gamma", 200),
    ("/apis/v1beta1/runs/{run_id}", "/apis/v1beta1/runs/{run}", 200),
    ("/apis/v1beta1/runs/{run_id}", "/apis/v1beta1/runs/nope", 404),
    ("/apis/v2beta1/runs", "/apis/v2beta1/runs", 200),
    ("/apis/v2beta1/runs", '/apis/v2beta1/runs?namespace=ml&sort_by=name desc'
     '&filter={"predicates":[{"key":"state","operation":"EQUALS","string_value":"SUCCEEDED"}]}', 200),
    ("/apis/v2beta1/runs", "/apis/v2beta1/runs?filter=nope", 400),
    ("/apis/v2beta1/runs/{run_id}", "/apis/v2beta1/runs/{run}", 200),
    ("/apis/v2beta1/runs/{run_id}", "/apis/v2beta1/runs/nope", 404),
]
# Values Postgres cannot take (NUL, times beyond its range once in UTC, integers beyond int64) are
# the client's mistake wherever they are bound: a 400, never a 500.
UNSTORABLE = [
    ("/api/v1/runs", "/api/v1/runs?namespace=%00"),
    ("/api/v1/runs", "/api/v1/runs?label=a=%00"),
    ("/api/v1/runs", "/api/v1/runs?param.x=%00"),
    ("/api/v1/runs", "/api/v1/runs?created_after=0001-01-01T00:00:00%2B01:00"),
    ("/api/v1/runs", "/api/v1/runs?finished_before=9999-12-31T23:59:59-01:00"),
    ("/api/v1/runs/{run_id}", "/api/v1/runs/%00"),
    ("/api/v1/runs/{run_id}/steps", "/api/v1/runs/a%00b/steps"),
    ("/api/v1/runs/{run_id}/timeline", "/api/v1/runs/%00/timeline"),
    ("/api/v1/runs/{run_id}/metrics", "/api/v1/runs/%00/metrics"),
    ("/api/v1/runs/{run_id}/steps/{step}/logs", "/api/v1/runs/a/steps/%00/logs"),
    ("/api/v1/runs/compare", "/api/v1/runs/compare?ids=%00"),
    ("/api/v1/pipelines/{pipeline}/metrics", "/api/v1/pipelines/%00/metrics?name=a"),
    ("/api/v1/pipelines/{pipeline}/metrics", "/api/v1/pipelines/a/metrics?name=a&created_after=0001-01-01T00:00:00%2B01:00"),
    ("/api/v1/artifacts", "/api/v1/artifacts?uri_prefix=%00"),
    ("/api/v1/artifacts", "/api/v1/artifacts?name=%00"),
    ("/api/v1/artifacts/{ref}", "/api/v1/artifacts/s3://a/%00"),
    ("/api/v1/artifacts/{ref}", "/api/v1/artifacts/99999999999999999999999"),
    ("/api/v1/lineage", "/api/v1/lineage?node=run:%00"),
    ("/api/v1/lineage", "/api/v1/lineage?node=artifact:s3://a/%00"),
    ("/apis/v1beta1/runs", "/apis/v1beta1/runs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=%00"),
    ("/apis/v1beta1/runs/{run_id}", "/apis/v1beta1/runs/%00"),
    ("/apis/v2beta1/runs", "/apis/v2beta1/runs?namespace=%00"),
    ("/apis/v2beta1/runs", '/apis/v2beta1/runs?filter={"predicates":[{"key":"name","operation":"EQUALS","string_value":"\\u0000"}]}'),
    ("/apis/v2beta1/runs", '/apis/v2beta1/runs?filter={"predicates":[{"key":"created_at","operation":"LESS_THAN",'
     '"timestamp_value":"0001-01-01T00:00:00%2B01:00"}]}'),
    ("/apis/v2beta1/runs/{run_id}", "/apis/v2beta1/runs/%00"),
]
CASES += [(template, url, 400) for template, url in UNSTORABLE]


@pytest.fixture(scope="module")
def live(pg_server_uri, template_database, moto_server, tmp_path_factory):
    with seeded_api(server_uri=pg_server_uri, template=template_database, moto=moto_server,
                    tmp_path=tmp_path_factory.mktemp("live")) as base_url:  # fmt: skip
        with requests.Session() as session:
            yield base_url, session, _known(base_url, session)


def _known(base_url: str, session: requests.Session) -> dict[str, str]:
    """Ids of the seeded data that the URLs refer to: the real fixture with the most steps, an indexed metrics file."""
    runs = session.get(f"{base_url}/api/v1/runs?limit=500").json()["runs"]
    fixture = max((r for r in runs if not r["id"].startswith("uid-")), key=lambda r: sum(r["step_counts"].values()))
    pipeline = next(r["pipeline_name"] for r in runs if r["pipeline_name"])
    metrics = session.get(f"{base_url}/api/v1/artifacts?name=mlpipeline-metrics&state=indexed&limit=1").json()
    (artifact,) = metrics["artifacts"]
    return {"run": fixture["id"], "namespace": fixture["namespace"], "pipeline": pipeline,
            "artifact_id": str(artifact["id"]), "metrics_uri": artifact["uri"]}  # fmt: skip


def _get(live, url: str) -> requests.Response:
    base_url, session, _ = live
    return session.get(base_url + url, timeout=30)


def test_the_cases_call_every_operation_of_the_document():
    # An event stream never ends: its answers are checked by its own tests, event by event.
    finite = {p for p, item in SPEC["paths"].items() if EVENT_STREAM not in item["get"]["responses"]["200"]["content"]}
    assert {template for template, _, _ in CASES} == finite


@pytest.mark.parametrize(("template", "url", "status"), CASES, ids=[f"{s} {u}" for _, u, s in CASES])
def test_each_endpoint_answers_what_the_document_says(live, template, url, status):
    for name, value in live[2].items():
        url = url.replace(f"{{{name}}}", value)
    response = _get(live, url)
    assert response.status_code == status, response.text[:500]
    assert_matches_spec(SPEC, template=template, method="get", response=response)


@pytest.mark.parametrize(
    ("template", "first", "token_field"),
    [
        ("/api/v1/runs", "/api/v1/runs?limit=4&sort=name", "next_page_token"),
        ("/api/v1/artifacts", "/api/v1/artifacts?limit=2", "next_page_token"),
        ("/apis/v1beta1/runs", "/apis/v1beta1/runs?page_size=4", "next_page_token"),
        ("/apis/v2beta1/runs", "/apis/v2beta1/runs?page_size=4&sort_by=finished_at", "next_page_token"),
    ],
)
def test_later_pages_match_the_document_too(live, template, first, token_field):
    separator = "&" if "?" in first else "?"
    response, pages = _get(live, first), 0
    while True:
        assert response.status_code == 200, response.text[:500]
        assert_matches_spec(SPEC, template=template, method="get", response=response)
        pages += 1
        token = response.json().get(token_field)
        if not token or pages == 3:
            break
        response = _get(live, f"{first}{separator}page_token={token}")
    assert pages > 1
