"""The CSP and the other UI headers are on every /ui response: pages, files, redirects, and the errors."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from runledger.ui.routes import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.browser


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def headers_of(url: str, *, method: str = "GET") -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


@pytest.mark.parametrize(("path", "method", "status"), [
    ("/ui/static/nothing.js", "GET", 404), ("/ui/static/..%2Froutes.py", "GET", 404), ("/ui/", "POST", 405),
    ("/ui/runs/x%00y", "GET", 400), ("/ui", "GET", 302), ("/", "GET", 302), ("/ui/nowhere", "GET", 200),
])  # fmt: skip
def test_an_error_or_redirect_under_ui_carries_the_policy(ui, path, method, status):
    got, headers = headers_of(ui.base + path, method=method)
    assert got == status
    assert headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY
    assert headers.get("X-Content-Type-Options") == "nosniff"


def test_the_api_s_responses_are_left_as_they_are(ui):
    _, headers = headers_of(ui.base + "/api/v1/runs/nope")
    assert "Content-Security-Policy" not in headers
