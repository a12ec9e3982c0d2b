"""A tiny HTTP/1.1 server on 127.0.0.1 that answers every GET with one canned JSON body, from a thread.

For the blocking client's own behaviour (keep-alive, a connection the server closed while idle, a reader
that went away) where the real API would add nothing but start-up time. ``close_after_answer`` closes
each connection once its answer is sent, without saying so (no ``Connection: close``), as a server or
proxy timing out an idle connection does; ``connections`` counts the connections accepted.
"""

from __future__ import annotations

import contextlib
import json
import socketserver
import threading
from collections.abc import Iterator
from typing import Any


class CannedServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, body: Any, *, close_after_answer: bool) -> None:
        self.body = json.dumps(body).encode()
        self.close_after_answer = close_after_answer
        self.connections = 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(socketserver.StreamRequestHandler):
    server: CannedServer

    def handle(self) -> None:
        self.server.connections += 1
        while True:
            head = []
            while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                head.append(line)
            if not head:
                return  # the client closed the connection
            body = self.server.body
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
            self.wfile.flush()
            if self.server.close_after_answer:
                return


@contextlib.contextmanager
def canned_server(body: Any, *, close_after_answer: bool = False) -> Iterator[CannedServer]:
    server = CannedServer(body, close_after_answer=close_after_answer)
    thread = threading.Thread(target=server.serve_forever, name="canned-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
