"""GET /api/v1/whoami answers 200 with or without a usable token, and tells only about the caller."""

from __future__ import annotations

import json

from pydantic import SecretStr

from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest

GRANTS = [
    {"token": "reader-a-0123456789abcdef", "user": "reader-a", "namespaces": ["team-a"]},
    {"token": "admin-0123456789abcdef", "user": "admin", "namespaces": ["*"]},
]


async def whoami(api, token: str | None = None) -> dict:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with api.get("/api/v1/whoami", headers=headers) as response:
        assert response.status == 200
        return await response.json()


async def test_with_static_tokens_it_names_the_caller_and_its_namespaces_and_nothing_else(pool, settings):
    await ingest(pool, settings, [
        WorkflowBuilder(name=n, namespace=ns).phase("Succeeded").event("ADDED")
        for n, ns in (("a1", "team-a"), ("b1", "team-b"))
    ])  # fmt: skip
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(GRANTS))})
    async with serve(settings=configured, pool=pool) as api:
        assert await whoami(api, "reader-a-0123456789abcdef") == {
            "auth_required": True, "authenticated": True, "user": "reader-a", "all_namespaces": False,
            "namespaces": ["team-a"], "problem": None}  # fmt: skip
        admin = await whoami(api, "admin-0123456789abcdef")
        assert (admin["user"], admin["all_namespaces"], admin["namespaces"]) == ("admin", True, [])
        nobody = {"auth_required": True, "authenticated": False, "user": None, "all_namespaces": False, "namespaces": []}
        assert await whoami(api) == nobody | {"problem": "this API needs a bearer token: Authorization: Bearer <token>"}
        assert await whoami(api, "someone-else-0123456789") == nobody | {"problem": "the bearer token is not valid"}
        # The rest of the API still asks for the token.
        async with api.get("/api/v1/runs") as response:
            assert response.status == 401


async def test_with_auth_off_it_says_no_token_is_needed(pool, settings):
    async with serve(settings=settings, pool=pool) as api:
        assert await whoami(api) == {"auth_required": False, "authenticated": False, "user": None,
                                     "all_namespaces": True, "namespaces": [], "problem": None}  # fmt: skip
