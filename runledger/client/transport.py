"""The client's HTTP: HTTP/1.1 GETs over asyncio streams, parsed by h11, on kept-alive connections.

Why not aiohttp's client: a query command is a process of its own, and importing aiohttp's client
took longer than everything else the command does (its connector builds SSL contexts and loads the CA
certificates at import, for http:// servers too). The client needs only GETs with a body read whole
or streamed (a log, the event feed), so it sends them itself and leaves the protocol (framing, chunked
bodies, keep-alive) to h11, the sans-I/O HTTP/1.1 library httpx is built on. ``ssl`` is imported
only for an https:// server.

Idle connections are kept and reused, one request at a time each; concurrent requests open more. A
connection the server closed while it sat idle is found out when a request on it gets no answer at
all: a GET is safe to send again, so it is sent once more on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlencode, urlsplit

import h11

CHUNK = 256 * 1024


class ConnectionFailed(Exception):
    """No answer: nothing listens, the connection broke, or the server spoke something not HTTP/1.1."""


class Response:
    """A response whose body is read as it arrives: ``read`` it whole, or iterate ``chunks``/``lines``."""

    def __init__(self, head: h11.Response, *, connection: _Connection) -> None:
        self.status = head.status_code
        self.reason = head.reason.decode("latin-1")
        self.headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in head.headers}
        self._connection = connection
        self._body: bytes | None = None
        self.complete = False

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._body is not None:
            yield self._body
            return
        while not self.complete:
            event = await self._connection.next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True

    async def read(self) -> bytes:
        """The whole body (kept: read again, it is the same bytes)."""
        if self._body is None:
            self._body = b"".join([chunk async for chunk in self.chunks()])
        return self._body

    async def lines(self) -> AsyncIterator[bytes]:
        """The body's lines, each with its line end (the last one perhaps without)."""
        pending = b""
        async for chunk in self.chunks():
            pending += chunk
            *whole, pending = pending.split(b"\n")
            for line in whole:
                yield line + b"\n"
        if pending:
            yield pending


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.protocol = h11.Connection(h11.CLIENT)
        self.used = False  # a request was answered on it: it may have been closed by the server since

    async def next_event(self) -> h11.Event:
        while True:
            try:
                event = self.protocol.next_event()
            except h11.RemoteProtocolError as exc:
                raise ConnectionFailed(f"the answer is not HTTP/1.1: {exc}") from exc
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    raise ConnectionFailed("the server closed the connection before answering in full")
                return event
            try:
                data = await self.reader.read(CHUNK)
            except OSError as exc:
                raise ConnectionFailed(_why(exc)) from exc
            self.protocol.receive_data(data)

    async def send(self, event: h11.Event) -> None:
        try:
            self.writer.write(self.protocol.send(event) or b"")
            await self.writer.drain()
        except OSError as exc:
            raise ConnectionFailed(_why(exc)) from exc

    def reusable(self) -> bool:
        if self.protocol.our_state is h11.DONE and self.protocol.their_state is h11.DONE:
            self.protocol.start_next_cycle()
            return True
        return False

    def close(self) -> None:
        self.writer.close()


class Transport:
    """GETs to one server (``http://`` or ``https://``, perhaps with a path prefix), with fixed headers."""

    def __init__(self, server: str, *, headers: Mapping[str, str]) -> None:
        parts = urlsplit(server)
        self._tls = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = [("Host", parts.netloc), ("User-Agent", "runledger-client"), *headers.items()]
        self._idle: list[_Connection] = []

    @contextlib.asynccontextmanager
    async def get(
        self, path: str, *, query: list[tuple[str, str]], headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[Response]:
        """The response to ``GET path?query``, its body unread. Raises ConnectionFailed without an answer."""
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        request = h11.Request(method="GET", target=target, headers=[*self._headers, *(headers or {}).items()])
        connection, response = await self._send(request)
        try:
            yield response
        finally:
            # Only a connection whose answer was read to its end can carry the next request.
            if response.complete and connection.reusable():
                self._idle.append(connection)
            else:
                connection.close()

    async def _send(self, request: h11.Request) -> tuple[_Connection, Response]:
        while True:
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                await connection.send(request)
                await connection.send(h11.EndOfMessage())
                head = await connection.next_event()
            except ConnectionFailed:
                connection.close()
                if connection.used:
                    continue  # closed by the server while idle: a GET can be sent again
                raise
            except BaseException:
                connection.close()
                raise
            connection.used = True
            if not isinstance(head, h11.Response):
                connection.close()
                raise ConnectionFailed(f"unexpected {type(head).__name__} before the response")
            return connection, Response(head, connection=connection)

    async def _connect(self) -> _Connection:
        context = None
        if self._tls:
            import ssl

            context = ssl.create_default_context()
        try:
            reader, writer = await asyncio.open_connection(self._host, self._port, ssl=context, limit=CHUNK)
        except OSError as exc:
            raise ConnectionFailed(_why(exc)) from exc
        return _Connection(reader, writer)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        for connection in idle:
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()


def _why(exc: OSError) -> str:
    # asyncio's connect failures carry the errno but a sentence of their own ("Connect call failed").
    return os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
