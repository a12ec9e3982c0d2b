"""Every /ui path answers the app shell (deep links paste) with a CSP that allows no inline script."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.browser


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.build_opener(_NoRedirect).open(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.mark.parametrize("path", ["/ui/", "/ui/runs/anything", "/ui/artifacts/s3://b/k", "/ui/lineage?node=run:x",
                                  "/ui/compare?ids=a,b", "/ui/pipelines/p"])
def test_every_page_path_is_the_shell(ui, path):
    status, headers, body = fetch(ui.base + path)
    assert status == 200 and b'src="/ui/static/app.js"' in body
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_root_redirects_and_static_files_stay_in_their_folder(ui):
    status, headers, _ = fetch(ui.base + "/")
    assert (status, headers["Location"]) == (302, "/ui/")
    status, headers, _ = fetch(ui.base + "/ui/static/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert fetch(ui.base + "/ui/static/..%2Froutes.py")[0] == 404
    assert fetch(ui.base + "/ui/static/nothing.js")[0] == 404


def test_with_auth_on_the_shell_is_open_and_the_api_is_not(ui):
    assert fetch(ui.auth_base + "/ui/runs/x")[0] == 200
    assert fetch(ui.auth_base + "/api/v1/runs")[0] == 401
