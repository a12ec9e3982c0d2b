"""Auth in static mode: a fixed token list, for installs without a Kubernetes API to ask."""

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


async def names(api, token: str, query: str = "", status: int = 200) -> list[str]:
    async with api.get(f"/api/v1/runs{query}", headers={"Authorization": f"Bearer {token}"}) as response:
        body = await response.json()
        assert response.status == status, body
        return sorted(r["name"] for r in body.get("runs", []))


async def test_static_tokens_scope_callers_to_their_namespaces(pool, settings, tmp_path):
    await ingest(pool, settings, [
        WorkflowBuilder(name=n, namespace=ns).phase("Succeeded").event("ADDED")
        for n, ns in (("a1", "team-a"), ("b1", "team-b"))
    ])  # fmt: skip
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(GRANTS))})
    async with serve(settings=configured, pool=pool) as api:
        assert await names(api, "reader-a-0123456789abcdef") == ["a1"]
        assert await names(api, "admin-0123456789abcdef") == ["a1", "b1"]
        await names(api, "reader-a-0123456789abcdef", "?namespace=team-b", status=403)
        await names(api, "someone-else-0123456789", status=401)

    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps(GRANTS))
    from_file = settings.updated(auth={"mode": "static", "static_tokens_file": tokens_file})
    async with serve(settings=from_file, pool=pool) as api:
        assert await names(api, "reader-a-0123456789abcdef") == ["a1"]
