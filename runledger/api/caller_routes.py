"""GET /api/v1/whoami: whether this server asks for a token, and who the caller's token says it is.

A page asks this before anything else, so a missing or refused token is a question answered 200
rather than a 401 every browser logs as a failed load. It is reachable without a token (auth lets it
through) and tells the caller only about itself: its identity and the namespaces it may read, which
a caller without a usable token learns nothing of.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from runledger.api import auth
from runledger.api.responses import model_response
from runledger.store.read_errors import Unauthenticated
from runledger.store.read_models import Out


class Caller(Out):
    auth_required: bool = Field(description="Whether this server asks every API call for a bearer token.")
    authenticated: bool = Field(description="Whether the request's bearer token names a caller.")
    user: str | None = Field(description="The caller's user name; null without a usable token, or with auth off.")
    all_namespaces: bool = Field(description="The caller reads every namespace (always so with auth off).")
    namespaces: list[str] = Field(
        description="The namespaces with runs the caller may read, when not all of them; empty otherwise."
    )
    problem: str | None = Field(description="Why the token was not accepted, when auth is on and it was not.")


async def whoami(request: web.Request) -> web.Response:
    if not auth.required(request):
        return model_response(Caller(auth_required=False, authenticated=False, user=None, all_namespaces=True,
                                     namespaces=[], problem=None))  # fmt: skip
    try:
        identity = await auth.identify(request)
    except Unauthenticated as exc:
        return model_response(Caller(auth_required=True, authenticated=False, user=None, all_namespaces=False,
                                     namespaces=[], problem=str(exc)))  # fmt: skip
    visible = await auth.visible_namespaces(request)
    return model_response(Caller(auth_required=True, authenticated=True, user=identity.user,
                                 all_namespaces=visible is None, namespaces=sorted(visible or ()), problem=None))  # fmt: skip


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/whoami", whoami)
