"""The client for asyncio programs: RunledgerClient's methods, awaited.

One transport serves both: each call runs the synchronous client in a worker thread, so the query
commands keep starting without asyncio while an async program (a service, a notebook) awaits the
same typed methods, models and errors. Not imported by the query commands.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Concatenate, ParamSpec, Self, TypeVar

from runledger.client.session import DEFAULT_SERVER, RunledgerClient

P = ParamSpec("P")
T = TypeVar("T")
_END = object()


def _awaited(method: Callable[Concatenate[RunledgerClient, P], T]) -> Callable[Concatenate[AsyncRunledgerClient, P], Awaitable[T]]:
    @functools.wraps(method)
    async def call(self: AsyncRunledgerClient, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._call(method, self._client, *args, **kwargs)

    return call


def _iterated(
    method: Callable[Concatenate[RunledgerClient, P], Iterator[T]], *, own_connection: bool = False
) -> Callable[Concatenate[AsyncRunledgerClient, P], AsyncIterator[T]]:
    """Pages on the client's connection, one pull at a time; a stream (own_connection) on one of its own."""

    @functools.wraps(method)
    def iterate(self: AsyncRunledgerClient, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        if own_connection:
            return self._stream(lambda client: method(client, *args, **kwargs))
        return self._pull(method(self._client, *args, **kwargs))

    return iterate


class AsyncRunledgerClient:
    """``async with AsyncRunledgerClient(server, token=…) as client: page = await client.list_runs(…)``.

    Calls on one client run one at a time (its connection carries one request at a time); a stream
    (``events``, ``step_log``) reads on a connection of its own, so calls made meanwhile are not held up.
    Leaving a stream early closes its connection."""

    def __init__(self, server: str = DEFAULT_SERVER, *, token: str | None = None, timeout: float = 30.0) -> None:
        self._open = functools.partial(RunledgerClient, server, token=token, timeout=timeout)
        self._client = self._open()
        self._turn = asyncio.Lock()
        self.server = self._client.server

    list_runs = _awaited(RunledgerClient.list_runs)
    iter_runs = _iterated(RunledgerClient.iter_runs)
    get_run = _awaited(RunledgerClient.get_run)
    find_run = _awaited(RunledgerClient.find_run)
    list_steps = _awaited(RunledgerClient.list_steps)
    compare_runs = _awaited(RunledgerClient.compare_runs)
    pipeline_stats = _awaited(RunledgerClient.pipeline_stats)
    list_artifacts = _awaited(RunledgerClient.list_artifacts)
    iter_artifacts = _iterated(RunledgerClient.iter_artifacts)
    get_artifact = _awaited(RunledgerClient.get_artifact)
    lineage = _awaited(RunledgerClient.lineage)
    step_log = _iterated(RunledgerClient.step_log, own_connection=True)
    events = _iterated(RunledgerClient.events, own_connection=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        async with self._turn:
            self._client.close()

    async def _call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        async with self._turn:
            work = asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # The thread cannot be stopped: the connection stays its own until it returns.
                await asyncio.wait([work])
                raise

    async def _pull(self, items: Iterator[T]) -> AsyncIterator[T]:
        while (item := await self._call(next, items, _END)) is not _END:
            yield item  # type: ignore[misc]

    async def _stream(self, start: Callable[[RunledgerClient], Iterator[T]]) -> AsyncIterator[T]:
        client = self._open()
        items = start(client)
        loop = asyncio.get_running_loop()
        work: asyncio.Future | None = None
        try:
            while (item := await (work := loop.run_in_executor(None, next, items, _END))) is not _END:
                yield item  # type: ignore[misc]
        finally:
            client.close()  # wakes the worker still reading, if any
            if work is not None and not work.done():
                await asyncio.wait([work])
                if not work.cancelled():
                    work.exception()  # the read the close cut short: nobody wants its error
