"""Routes of the UI: the app shell for every /ui/* page, its static files, and / -> /ui/.

Pages are routed in the browser, so the server answers any /ui/ path with index.html and lets the
client decide what it shows (or that it does not exist). Every UI response carries a CSP that only
allows scripts, styles and connections from this origin: the pages render Workflow text, which
is untrusted, and the policy is the second line of defence behind the pages' textContent-only
rendering.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/ui"
# Route names mark UI routes apart from the API's (the OpenAPI document describes only the API).
ROUTE_NAME_PREFIX = "ui-"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self'",
    # No frames: a KFP web app's HTML is shown as text, never run.
    "frame-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def serves(path: str) -> bool:
    """Whether `path` is the UI's (open without a token: the shell holds no data, the API calls do)."""
    return path == "/" or path == PREFIX or path.startswith(PREFIX + "/")


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PREFIX + "/")


async def shell(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "index.html")


async def static(request: web.Request) -> web.StreamResponse:
    wanted = (STATIC / request.match_info["file"]).resolve()
    # Only files under static/ with a known type; `..` and symlinks out of it are a 404.
    if not wanted.is_relative_to(STATIC) or not wanted.is_file() or wanted.suffix not in _TYPES:
        raise web.HTTPNotFound(reason="no such UI file")
    return _file(wanted)


def _file(path: Path) -> web.Response:
    content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.Response(body=path.read_bytes(), content_type=content_type, charset="utf-8")


async def _with_headers(request: web.Request, response: web.StreamResponse) -> None:
    # On the way out rather than in the handlers: the app's error middleware answers 404s, 405s and
    # refused requests under /ui too, and those pages must be under the same policy.
    if serves(request.path):
        response.headers.update(HEADERS)


def add_routes(app: web.Application) -> None:
    app.on_response_prepare.append(_with_headers)
    app.router.add_get("/", root, name=ROUTE_NAME_PREFIX + "root")
    app.router.add_get(PREFIX, root, name=ROUTE_NAME_PREFIX + "bare")
    app.router.add_get(PREFIX + "/static/{file:.+}", static, name=ROUTE_NAME_PREFIX + "static")
    app.router.add_get(PREFIX + "/{page:.*}", shell, name=ROUTE_NAME_PREFIX + "shell")
