"""The served API as a long-running part: ``async with ApiServer(...)`` listens, supervises the
parts the app runs itself (its read router, its event feed: a dying one fails the server, so its
owner stops loudly), and stops listening when left. While migrations run, a server of the probes
alone holds the port."""

from __future__ import annotations

import asyncio
import errno

from aiohttp import web

from runledger.api import serving
from runledger.api.feed_routes import HUB
from runledger.api.app_keys import READS
from runledger.api.responses import model_response
from runledger.core.lifecycle import Service, first
from runledger.core.settings import ApiSettings, DatabaseSettings
from runledger.service.command_errors import CommandError
from runledger.store.read_models import Health


class ApiServer(Service):
    name = "api server"
    grace = 0.0

    def __init__(
        self, app: web.Application, *, api: ApiSettings, database: DatabaseSettings, host: str, port: int
    ) -> None:
        super().__init__()
        self.app = app
        self._api, self._database, self._host, self._port = api, database, host, port
        self._runner: web.AppRunner | None = None

    async def _start(self) -> None:
        try:
            self._runner = await serving.serve(self.app, api=self._api, database=self._database, host=self._host,
                                               port=self._port)  # fmt: skip
        except OSError as exc:
            raise CommandError(self._cannot_listen(exc), code=1) from exc
        self.spawn(self._supervise(), name="api-parts")

    def _cannot_listen(self, exc: OSError) -> str:
        host, port = self._host, self._port
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} on {host} is in use: stop what listens there, or set RUNLEDGER_API_PORT (or --port)"
        return f"cannot listen on {host}:{port} ({exc.strerror or exc}): check RUNLEDGER_API_HOST (or --host)"

    async def _supervise(self) -> None:
        parts = [self.app[key] for key in (READS, HUB) if key in self.app]
        await first(parts=parts, serving=asyncio.Event().wait())  # raises why a part failed

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def probes_while_migrating() -> web.Application:
    """The probes alone: /healthz 200 (alive: a startup probe must not kill a pod in the middle of a
    long migration, which would roll it back and start it over), /readyz 503 (no traffic yet)."""
    applying = {"migrations": "applying"}

    async def healthz(_: web.Request) -> web.Response:
        return model_response(Health(status="ok", checks=applying))

    async def readyz(_: web.Request) -> web.Response:
        return model_response(Health(status="unavailable", checks=applying), status=503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
