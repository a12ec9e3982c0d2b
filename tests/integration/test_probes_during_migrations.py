"""A pod applying a long migration answers its probes: alive, not ready, never killed mid-migration."""

from __future__ import annotations

import asyncio

import aiohttp

from runledger import service
from runledger.service import server_commands
from tests.support.s3 import free_port
from tests.support.waiting import eventually


async def probe(session: aiohttp.ClientSession, url: str) -> tuple[int, dict | None] | None:
    try:
        async with session.get(url) as response:
            return response.status, await response.json() if response.content_type == "application/json" else None
    except aiohttp.ClientConnectionError:
        return None


async def test_while_migrations_run_healthz_is_200_and_readyz_503_then_the_api_takes_the_port(
    empty_dsn, settings, monkeypatch
):
    port = free_port()
    gate = asyncio.Event()
    migrate = server_commands.migrate_database

    async def held_migration(dsn: str, **options):  # noqa: ANN202
        await gate.wait()
        return await migrate(dsn, **options)

    monkeypatch.setattr(server_commands, "migrate_database", held_migration)
    configured = settings.updated(database={"url": empty_dsn})
    api = asyncio.create_task(service.run_api(configured, host="127.0.0.1", port=port, announce=lambda _: None))
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def answering() -> bool:
                return await probe(session, f"{base}/healthz") is not None

            await eventually(answering)
            assert await probe(session, f"{base}/healthz") == (200, {"status": "ok", "checks": {"migrations": "applying"}})
            assert await probe(session, f"{base}/readyz") == (503, {"status": "unavailable", "checks": {"migrations": "applying"}})
            assert (await probe(session, f"{base}/api/v1/runs"))[0] == 404  # nothing else is served yet
            gate.set()

            async def ready() -> bool:
                answer = await probe(session, f"{base}/readyz")
                return answer is not None and answer[0] == 200

            await eventually(ready, timeout=30)
            status, body = await probe(session, f"{base}/api/v1/runs")
            assert status == 200 and body["runs"] == []
    finally:
        api.cancel()
        await asyncio.gather(api, return_exceptions=True)
