"""A TCP proxy the test controls, to cut a real server off mid-conversation.

Listens on 127.0.0.1 and forwards to a TCP address or a Unix socket (the embedded Postgres listens
on a socket only). `cut()` closes every open connection and refuses new ones until `restore()`;
`garble()` sends every open client connection a Postgres message it did not ask for, which breaks the
client's protocol state as a server dying mid-reply does (asyncpg: InternalClientError).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlparse


class TcpProxy:
    def __init__(self, *, unix_path: str | None = None, host: str | None = None, port: int | None = None) -> None:
        self._unix_path, self._host, self._port = unix_path, host, port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.StreamWriter] = set()
        self.up = True
        self.port = 0

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._clients.clear()

    async def garble(self) -> int:
        """Send each open client connection an unsolicited CommandComplete; returns how many got one.

        The clients are meant to be idle (a pool's): the message then breaks their protocol state."""
        tag = b"SELECT 1\x00"
        message = b"C" + (4 + len(tag)).to_bytes(4, "big") + tag
        clients = [w for w in self._clients if w in self._writers]
        for writer in clients:
            writer.write(message)
        # Clients in this process read from the same event loop: a few turns of it deliver the message.
        for _ in range(5):
            await asyncio.sleep(0)
        return len(clients)

    def restore(self) -> None:
        self.up = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            if self._unix_path:
                up_reader, up_writer = await asyncio.open_unix_connection(self._unix_path)
            else:
                up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        self._clients.add(writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst), name="tcp-proxy-pipe")
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.transport.abort()
        self._writers.discard(dst)
        self._clients.discard(dst)


async def postgres_proxy(dsn: str) -> tuple[TcpProxy, str]:
    """A started proxy in front of the embedded Postgres of `dsn`, and the DSN that goes through it."""
    parsed = urlparse(dsn)
    host = parse_qs(parsed.query)["host"][0]
    proxy = await TcpProxy(unix_path=f"{host}/.s.PGSQL.5432").start()
    return proxy, f"postgresql://postgres@127.0.0.1:{proxy.port}/{parsed.path.lstrip('/')}"
