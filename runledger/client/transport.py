"""The client's HTTP: GETs with the standard library's ``http.client``, on one kept-alive connection.

Why so plain: a query command is a process of its own that lives a fraction of a second, and what it
imports is most of its time. aiohttp's client (its connector builds SSL contexts at import) and then
asyncio with h11 each cost more than the request itself; ``http.client`` is already what a blocking
program needs: keep-alive, chunked bodies, a body read whole, in pieces as they arrive (a log), or line
by line (the event feed).

Idle connections are kept and reused, one request at a time each; a request made while another's
answer is still being read (a run fetched for each event of the feed) opens another. A kept connection the server closed while it sat idle is found out when a request on it gets
no answer at all: a GET is safe to send again, so it is sent once more on a new connection. ``timeout``
bounds connecting and each wait for the server; once a streamed answer (a log, the event feed) has
begun, waiting is the server's to end.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Iterator, Mapping
from urllib.parse import urlencode, urlsplit

CHUNK = 256 * 1024


class ConnectionFailed(Exception):
    """No answer: nothing listens, the connection broke, or the server spoke something not HTTP/1.1."""


class Response:
    """A response whose body is read as it arrives: ``read`` it whole, or iterate ``chunks``/``lines``."""

    def __init__(self, answer: http.client.HTTPResponse) -> None:
        self.status = answer.status
        self.reason = answer.reason
        self.headers = answer.headers  # case-insensitive
        self._answer = answer
        self._body: bytes | None = None

    @property
    def complete(self) -> bool:
        return self._answer.isclosed()

    def read(self) -> bytes:
        """The whole body (kept: read again, it is the same bytes)."""
        if self._body is None:
            with _failures():
                self._body = self._answer.read()
        return self._body

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces, each as soon as it has arrived."""
        while True:
            with _failures():
                chunk = self._answer.read1(CHUNK)
            if not chunk:
                return
            yield chunk

    def lines(self) -> Iterator[bytes]:
        """The body's lines, each with its line end (the last one perhaps without)."""
        while True:
            with _failures():
                line = self._answer.readline()
            if not line:
                return
            yield line


class Transport:
    """GETs to one server (``http://`` or ``https://``, perhaps with a path prefix), with fixed headers."""

    def __init__(self, server: str, *, headers: Mapping[str, str], timeout: float) -> None:
        parts = urlsplit(server)
        self._tls = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = {"User-Agent": "runledger-client", **headers}
        self._timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._streaming: set[http.client.HTTPConnection] = set()
        self._closed = False

    @contextlib.contextmanager
    def get(self, path: str, *, query: list[tuple[str, str]], headers: Mapping[str, str] | None = None,
            stream: bool = False) -> Iterator[Response]:  # fmt: skip
        """The response to ``GET path?query``, its body unread. Raises ConnectionFailed without an answer,
        TimeoutError when the server is silent for longer than the timeout."""
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        connection, answer = self._send(target, {**self._headers, **(headers or {})})
        if stream and connection.sock is not None:
            connection.sock.settimeout(None)
            self._streaming.add(connection)
        response = Response(answer)
        try:
            yield response
        finally:
            self._streaming.discard(connection)
            # Only a connection whose answer was read to its end can carry the next request, and only
            # while the client is open (a stream close() cut short also reads as ended).
            if response.complete and not self._closed:
                self._idle.append(connection)
            else:
                connection.close()

    def _send(self, target: str, headers: dict[str, str]) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        while True:
            if self._closed:  # a stream cut by close() must not resume on a new connection
                raise ConnectionFailed("the client was closed")
            kept = bool(self._idle)
            connection = self._idle.pop() if kept else self._connection()
            if connection.sock is not None:
                connection.sock.settimeout(self._timeout)  # a stream before may have lifted it
            try:
                connection.request("GET", target, headers=headers)
                return connection, connection.getresponse()
            except TimeoutError:
                connection.close()
                raise
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if kept and isinstance(exc, (ConnectionError, http.client.RemoteDisconnected)):
                    continue  # closed by the server while idle: a GET can be sent again
                raise ConnectionFailed(_why(exc)) from exc
            except BaseException:
                connection.close()
                raise

    def _connection(self) -> http.client.HTTPConnection:
        if self._tls:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def close(self) -> None:
        """Close every connection; a stream being read (by another thread) ends with ConnectionFailed."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        for connection in list(self._streaming):
            # shutdown, not close: only it wakes a thread blocked reading the socket.
            with contextlib.suppress(OSError, AttributeError):
                connection.sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def _failures() -> Iterator[None]:
    """A broken body read as ConnectionFailed (a timeout stays a TimeoutError)."""
    try:
        yield
    except TimeoutError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectionFailed(_why(exc)) from exc


def _why(exc: Exception) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return "the server closed the connection before answering in full"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, http.client.HTTPException):
        return f"the answer is not HTTP/1.1: {type(exc).__name__}: {exc}"
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__
