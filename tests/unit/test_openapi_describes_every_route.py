"""The OpenAPI document and the app's router describe the same endpoints, with the same parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from runledger.api import kfp_routes as kfp
from runledger.api.openapi import build_spec
from runledger.core.settings import DatabaseSettings, Settings
from runledger.service import build_app
from runledger.ui import routes as ui


def _routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = build_app(settings=Settings(database=DatabaseSettings(data_dir=tmp_path)), dsn="postgresql://unused")
    # aiohttp adds a HEAD twin to every GET; `canonical` is the path without its {name:regex} parts.
    # The UI's pages and files are not API endpoints.
    return {(r.method, r.resource.canonical) for r in app.router.routes()
            if r.method != "HEAD" and not (r.name or "").startswith(ui.ROUTE_NAME_PREFIX)}  # fmt: skip


def _operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in build_spec()["paths"].items() for method in item}


def test_every_route_of_the_app_is_described_and_nothing_else(tmp_path):
    routes = _routes(tmp_path)
    described = _operations()
    assert routes - described == set(), "routes without an entry in runledger/api/openapi.py OPERATIONS"
    assert described - routes == set(), "OPERATIONS entries the app does not serve"


@pytest.mark.parametrize(
    ("path", "accepted"),
    [("/apis/v1beta1/runs", kfp._V1_LIST_PARAMS), ("/apis/v2beta1/runs", kfp._V2_LIST_PARAMS)],
)
def test_the_kfp_list_parameters_are_the_ones_the_handlers_accept(path, accepted):
    params = build_spec()["paths"][path]["get"]["parameters"]
    assert {p["name"] for p in params} == accepted


def test_tokens_are_declared_exactly_where_auth_can_demand_them():
    auth = pytest.importorskip("runledger.api.auth")
    for path, item in build_spec()["paths"].items():
        operation = item["get"]
        demanded = path not in auth.OPEN_PATHS and path.startswith(("/api/", "/apis/"))
        assert ("security" in operation) == demanded, path
        assert ({"401", "403"} <= set(operation["responses"])) == demanded, path
