"""The API on a socket, with limits that keep some clients from starving the rest.

aiohttp bounds a request head by size but not by time, and accepts connections until the process
runs out of file descriptors; past that point accept() fails, the database pool cannot connect,
every request is an error logged with a traceback, and the probes go unanswered like everything
else. So here, per connection:

* the request line and headers must arrive within RUNLEDGER_API_HEADER_TIMEOUT_SECONDS of
  connecting, or of a keep-alive connection's next first byte (a slow-loris client keeps a
  connection by trickling a request head that never ends);
* a keep-alive connection idle for RUNLEDGER_API_KEEPALIVE_TIMEOUT_SECONDS is closed (aiohttp's
  own keep-alive timer);
* at most RUNLEDGER_API_MAX_CONNECTIONS are open, and never more than the open-file limit leaves
  once the pool and the clients runledger opens have their share. A connection past the cap
  closes the one that has waited longest for a request; a connection with a request in flight is
  never closed for it, and when every one is busy the newcomer gets a 503. Half-open connections
  thus churn among themselves while a probe still gets in;
* a malformed or over-long request line or header gets a JSON 400 that does not echo it.

Each way a connection is closed is counted (runledger_http_connections_closed_total) and logged at
most once per LOG_INTERVAL_SECONDS with the count since the last line, never once per connection:
a flood must not turn into a flood of log lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric

from runledger.api import prometheus
from runledger.api.responses import error_response
from runledger.core.counters import counted_by
from runledger.core.settings import ApiSettings, DatabaseSettings

log = logging.getLogger(__name__)

LOG_INTERVAL_SECONDS = 60.0
# Descriptors kept for everything but API clients (Postgres' pool is added on top): the Kubernetes
# and S3 clients, the event feed's listener, log files, the embedded Postgres' pipes.
FD_RESERVE = 256
BAD_REQUEST = "the request line or a header is malformed or too long"
_OVER_CAP = json.dumps({"error": {"code": "unavailable", "message": "too many connections; retry later"}}).encode()
_OVER_CAP_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Retry-After: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(_OVER_CAP), _OVER_CAP)
)
_WHY = {
    "header_timeout": (logging.INFO, "closed {n} connection(s) that sent no complete request head within {s} s"),
    "idle_evicted": (logging.WARNING, "connection cap ({cap}) reached: closed {n} idle connection(s) to let new ones in"),
    "over_cap": (logging.WARNING, "connection cap ({cap}) reached with every connection busy: refused {n} connection(s)"),
    "bad_request": (logging.INFO, "answered {n} malformed or over-long request head(s) with 400"),
    "accept_failed": (logging.ERROR, "accepting connections failed {n} time(s): {detail}"),
}


def connection_cap(*, api: ApiSettings, database: DatabaseSettings, open_files: int) -> int:
    """RUNLEDGER_API_MAX_CONNECTIONS, lowered to what `open_files` descriptors leave for clients."""
    room = open_files - FD_RESERVE - database.pool_max
    return max(1, min(api.max_connections, room))


def _open_file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 30


class Throttled:
    """Log lines by kind, at most one per interval each, saying how often the kind happened."""

    def __init__(self, *, interval: float = LOG_INTERVAL_SECONDS, clock=time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._since: Counter[str] = Counter()

    def note(self, kind: str, **details: Any) -> None:
        self._since[kind] += 1
        now = self._clock()
        if kind in self._last and now - self._last[kind] < self._interval:
            return
        level, template = _WHY[kind]
        log.log(level, template.format(n=self._since.pop(kind), **details))
        self._last[kind] = now


class Connections:
    """The open connections, the longest-idle first, and what was closed and why."""

    def __init__(self, *, cap: int, header_timeout: float) -> None:
        self.cap = cap
        self.header_timeout = header_timeout
        self.closed: Counter[str] = Counter()
        self._open: OrderedDict[_Handler, None] = OrderedDict()
        self._log = Throttled()

    def __len__(self) -> int:
        return len(self._open)

    def note(self, reason: str, **details: Any) -> None:
        self.closed[reason] += 1
        self._log.note(reason, cap=self.cap, s=self.header_timeout, **details)

    def admit(self, handler: _Handler) -> bool:
        """Make room for `handler`; False when every open connection is busy."""
        if len(self._open) >= self.cap:
            idle = next((h for h in self._open if h.waiting_for_request()), None)
            if idle is None:
                self.note("over_cap")
                return False
            self.note("idle_evicted")
            self.forget(idle)
            idle.force_close()
        self._open[handler] = None
        return True

    def idle(self, handler: _Handler) -> None:
        if handler in self._open:
            self._open.move_to_end(handler)

    def forget(self, handler: _Handler) -> None:
        self._open.pop(handler, None)

    def metrics(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("runledger_http_connections", "Open HTTP connections to the API.", value=len(self))
        yield counted_by("runledger_http_connections_closed", "HTTP connections closed by the API's limits, "
                                    "by reason.", "reason", {r: self.closed[r] for r in _WHY if r != "accept_failed"})  # fmt: skip


class _Handler(web.RequestHandler):
    """aiohttp's connection handler, timing request heads and counted in `Connections`."""

    __slots__ = ("_limits", "_head_deadline")

    def __init__(self, manager: web.Server, *, connections: Connections, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = connections
        self._head_deadline: asyncio.TimerHandle | None = None

    def waiting_for_request(self) -> bool:
        # The state aiohttp's own keep-alive timer closes a connection in: nothing parsed, nothing running.
        return self._waiter is not None and not self._waiter.done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._limits.admit(self):
            transport.write(_OVER_CAP_RESPONSE)  # type: ignore[attr-defined]
            self.force_close()
            return
        self._time_the_head()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._limits.forget(self)
        self._stop_timing()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        parsed = self._request_count
        if self._head_deadline is None and self.waiting_for_request():
            self._time_the_head()  # a keep-alive connection's next request begins
        super().data_received(data)
        if self._request_count != parsed:
            self._stop_timing()

    async def finish_response(self, request, resp, start_time):  # type: ignore[no-untyped-def]
        finished = await super().finish_response(request, resp, start_time)
        self._limits.idle(self)
        return finished

    def handle_error(self, request, status=500, exc=None, message=None):  # type: ignore[no-untyped-def]
        if not 400 <= status < 500:
            return super().handle_error(request, status, exc, message)
        # aiohttp's answer echoes the offending line and logs a traceback per request.
        self._limits.note("bad_request")
        response = error_response(status, "bad_request", BAD_REQUEST)
        response.force_close()
        return response

    def _time_the_head(self) -> None:
        self._head_deadline = self._loop.call_later(self._limits.header_timeout, self._head_too_slow)

    def _stop_timing(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.waiting_for_request():
            self._limits.note("header_timeout")
            self._limits.forget(self)
            self.force_close()


class _Server(web.Server):
    def __init__(self, *args: Any, connections: Connections, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = connections

    def __call__(self) -> web.RequestHandler:
        return _Handler(self, connections=self._limits, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    def __init__(self, app: web.Application, *, connections: Connections, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = connections

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return _Server(plain.request_handler, request_factory=plain.request_factory, loop=asyncio.get_running_loop(),
                       handler_cancellation=plain.handler_cancellation, connections=self._limits,
                       **plain._kwargs)  # fmt: skip


async def serve(
    app: web.Application, *, api: ApiSettings, database: DatabaseSettings, host: str, port: int
) -> web.AppRunner:
    """Start serving `app` on host:port under the limits above; the caller cleans the runner up."""
    open_files = _open_file_limit()
    connections = Connections(cap=connection_cap(api=api, database=database, open_files=open_files),
                              header_timeout=api.header_timeout_seconds)  # fmt: skip
    if connections.cap < api.max_connections:
        log.warning("RUNLEDGER_API_MAX_CONNECTIONS lowered to %d: the open-file limit is %d (raise `ulimit -n`)",
                    connections.cap, open_files)  # fmt: skip
    if prometheus.TELEMETRY in app:
        app[prometheus.TELEMETRY].sources["http"] = connections.metrics
    _throttle_accept_errors(connections)
    runner = _Runner(app, connections=connections, access_log=None, handle_signals=False,
                     keepalive_timeout=api.keepalive_timeout_seconds)  # fmt: skip
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def _throttle_accept_errors(connections: Connections) -> None:
    """asyncio logs each failed accept() (EMFILE: out of descriptors) with a traceback, once a second per
    socket; reported here once per interval instead. Other loop errors go where they went."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            connections.note("accept_failed", detail=context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
