"""Bearer-token authentication and namespace visibility for the HTTP API.

With RUNLEDGER_AUTH_MODE=none (the embedded demo) nothing here runs and every caller reads
everything. Otherwise a middleware demands ``Authorization: Bearer <token>`` on every path but the
open ones (health, /metrics, /openapi.json: probes and scrapers carry no user tokens) and keeps
the caller's identity on the request. Handlers then ask one of three questions:

* ``visible_namespaces(request)``: the set to filter lists by (None: all), worked out once per
  request from the namespaces runledger has runs in;
* ``require_namespace(request, ns)``: a list scoped by name to a namespace the caller may not read
  is a 403, as kubectl would get;
* ``namespace_visible(request, ns)``: for one object (a run, an artifact's run); the handler answers
  404 when it is not, so ids of other tenants' runs are not confirmed to exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from runledger.api import access_reviews, app_keys
from runledger.core import kube_client
from runledger.core.settings import AuthSettings, ClusterSettings
from runledger.store.read_errors import Forbidden, Unauthenticated
from runledger.store.sql_blocks import q
from runledger.ui import routes as ui

ACCESS = web.AppKey("access", access_reviews.Access)
KNOWN_NAMESPACES = web.AppKey("known_namespaces", access_reviews.TtlCache)
IDENTITY = web.RequestKey("identity", access_reviews.Identity)
# frozenset[str] | None, worked out once per request.
_VISIBLE = web.RequestKey("visible_namespaces", object)

# /api/v1/whoami authenticates by itself: it answers 200 without a usable token too, telling the
# caller only about itself (see caller_routes).
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/apis/v1beta1/healthz",
                        "/apis/v2beta1/healthz", "/api/v1/whoami"})  # fmt: skip


def install(app: web.Application, *, auth: AuthSettings, cluster: ClusterSettings) -> None:
    """Set up the configured auth on `app` (nothing for mode none)."""
    if auth.mode == "none":
        return
    app[KNOWN_NAMESPACES] = access_reviews.TtlCache(ttl=auth.cache_seconds, max_entries=1)
    app.middlewares.append(authenticate)
    if auth.mode == "static":
        # Read now, so a malformed token list stops start-up with its message rather than failing requests.
        app[ACCESS] = access_reviews.StaticAccess(access_reviews.load_static_grants(auth))
        return

    async def reviewer(app: web.Application) -> AsyncIterator[None]:
        api = await kube_client.connect(cluster)
        try:
            app[ACCESS] = access_reviews.KubernetesAccess(
                api, audiences=auth.audiences, cache_seconds=auth.cache_seconds,
                cache_entries=auth.cache_entries,
            )  # fmt: skip
            yield
        finally:
            await api.close()

    app.cleanup_ctx.append(reviewer)


@web.middleware
async def authenticate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    # The UI's files hold no data: the pages' own API calls carry the token.
    if request.path in OPEN_PATHS or ui.serves(request.path):
        return await handler(request)
    await identify(request)
    return await handler(request)


def required(request: web.Request) -> bool:
    """Whether this server asks callers for a bearer token."""
    return ACCESS in request.app


async def identify(request: web.Request) -> access_reviews.Identity:
    """The caller behind the request's bearer token, kept on the request; Unauthenticated if none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("this API needs a bearer token: Authorization: Bearer <token>")
    identity = await request.app[ACCESS].authenticate(token)
    if identity is None:
        raise Unauthenticated("the bearer token is not valid")
    request[IDENTITY] = identity
    return identity


def _checked(request: web.Request) -> tuple[access_reviews.Access, access_reviews.Identity] | None:
    checker = request.app.get(ACCESS)
    return None if checker is None else (checker, request[IDENTITY])


async def visible_namespaces(request: web.Request) -> frozenset[str] | None:
    """The namespaces the caller may read; None when all of them (or auth is off)."""
    if _VISIBLE in request:
        return request[_VISIBLE]
    checked = _checked(request)
    visible = None
    if checked is not None:

        async def known() -> list[str]:
            return await request.app[KNOWN_NAMESPACES].get("namespaces", lambda: _known_namespaces(request))

        visible = await access_reviews.readable_namespaces(*checked, known=known)
    request[_VISIBLE] = visible
    return visible


async def namespace_visible(request: web.Request, namespace: str) -> bool:
    checked = _checked(request)
    if checked is None:
        return True
    if _VISIBLE in request:
        return request[_VISIBLE] is None or namespace in request[_VISIBLE]
    checker, identity = checked
    return await checker.may_read(identity, "") or await checker.may_read(identity, namespace)


async def require_namespace(request: web.Request, namespace: str) -> None:
    if not await namespace_visible(request, namespace):
        raise Forbidden(f"you may not read namespace {namespace!r} (get workflows.argoproj.io there)")


async def _known_namespaces(request: web.Request) -> list[str]:
    rows = await request.app[app_keys.READS].read(lambda conn: conn.fetch(q("known_namespaces")), one_statement=True)
    return [r["namespace"] for r in rows]
