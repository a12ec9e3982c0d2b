"""One lifecycle for every long-running part: an async context manager that starts, supervises, stops.

``async with part:`` starts the part's tasks. While it runs, ``part.failed`` is a future that stays
pending until one of those tasks dies (raises, is cancelled by someone else, or returns although
nothing asked it to): then it resolves at once with the error, so an owner waiting with ``first()``
learns of it immediately instead of running half-blind. Leaving the context of a failed part
without an error raises the failure there, as a TaskGroup would: it is never lost.

Leaving the context stops the part in three steps, each a hook a part may fill:

1. ``_quiesce()`` — always: stop taking new work (the intake, the claimer, new subscribers);
2. ``_finish()`` — only when the body exited cleanly and nothing failed: let in-flight work finish,
   bounded by ``grace`` seconds (after an error the part stops at once: what is queued is dropped
   or handed back, never waited for);
3. every task is cancelled and awaited, then ``_close()`` — always: hand back, release, close.

The stop runs shielded, so a cancellation arriving meanwhile (a second stop, a timeout of the owner)
cannot leave a lease held or a claim unreleased; it is re-raised once the stop is over, never eaten.
The composition root enters parts with an ``AsyncExitStack``, so they stop in reverse order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)


class Service:
    """Base of every long-running part: `async with` it; see the module docstring."""

    name: str = "service"
    grace: float = 10.0

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task] = []
        self._ending: set[asyncio.Task] = set()  # tasks we end ourselves: their end is no failure
        self._failed: asyncio.Future[None] | None = None

    @property
    def failed(self) -> asyncio.Future[None]:
        """Pending while the part runs; resolves with the error as soon as one of its tasks dies."""
        if self._failed is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._failed

    # --- hooks --------------------------------------------------------------------------------

    async def _start(self) -> None:
        """Spawn the part's tasks (with `spawn`)."""

    async def _quiesce(self) -> None:
        """Stop taking new work."""

    async def _finish(self) -> None:
        """Let in-flight work finish (clean exit only; bounded by `grace`)."""

    async def _close(self) -> None:
        """After every task ended: hand back what is left, release, close."""

    def _unfinished(self) -> str:
        """What the grace left undone, for the log."""
        return "work in flight"

    # --- tasks --------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        task.add_done_callback(self._on_task_done)
        return task

    def _on_task_done(self, task: asyncio.Task) -> None:
        error = None if task.cancelled() else task.exception()  # retrieved: asyncio logs nothing twice
        if task in self._ending or self._failed is None or self._failed.done():
            if error is not None and task in self._ending:
                log.error("%s: task %s failed while stopping", self.name, task.get_name(), exc_info=error)
            return
        if error is None:
            how = "was cancelled" if task.cancelled() else "ended unexpectedly"
            error = RuntimeError(f"{self.name}: task {task.get_name()} {how}")
        log.error("%s: task %s died; the part has failed", self.name, task.get_name(), exc_info=error)
        self._failed.set_exception(error)

    async def end(self, tasks: Iterable[asyncio.Task]) -> None:
        """Cancel `tasks` (ours) and wait until they are over; their ending is no failure."""
        tasks = list(tasks)
        self._ending.update(tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # --- the context --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._tasks:
            raise RuntimeError(f"{self.name} is already started")
        self._failed = asyncio.get_running_loop().create_future()
        try:
            await self._start()
        except BaseException:
            await _shielded(self._stop(clean=False), name=f"{self.name}-stop")
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await _shielded(self._stop(clean=exc_type is None), name=f"{self.name}-stop")
        failure = self.failed.exception() if self.failed.done() else None
        if failure is not None and exc_type is None:
            raise failure

    async def _stop(self, *, clean: bool) -> None:
        try:
            await self._quiesce()
            if clean and not self.failed.done():
                try:
                    async with asyncio.timeout(self.grace):
                        await self._finish()
                except TimeoutError:
                    log.error("%s: stopping after the %gs grace: %s", self.name, self.grace, self._unfinished())
        finally:
            await self.end(list(self._tasks))
            self._tasks.clear()
            self._ending.clear()
            await self._close()


async def _shielded(coro: Coroutine[Any, Any, None], *, name: str) -> None:
    """Run cleanup to its end even if we are cancelled meanwhile; then let the cancellation go on."""
    task = asyncio.create_task(coro, name=name)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await asyncio.wait([task])
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("%s failed", name, exc_info=task.exception())
        raise


async def first(*, parts: Iterable[Service] = (), **waits: Awaitable[Any]) -> str:
    """Wait for the first of `waits` to complete and return its name (its error, if any, is raised).

    A part of `parts` that fails first raises its error here at once. The other waits are cancelled
    and awaited before returning: nothing is left running.
    """
    tasks = {asyncio.ensure_future(w): name for name, w in waits.items()}
    for task, name in tasks.items():
        if isinstance(task, asyncio.Task):
            task.set_name(f"wait:{name}")
    failures = [part.failed for part in parts]
    try:
        done, _ = await asyncio.wait([*tasks, *failures], return_when=asyncio.FIRST_COMPLETED)
        for future in failures:
            if future in done:
                future.result()  # raises why the part failed
        task = next(t for t in tasks if t in done)
        task.result()
        return tasks[task]
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
