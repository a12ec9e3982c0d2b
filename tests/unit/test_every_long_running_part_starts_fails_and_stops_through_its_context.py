"""The one lifecycle (runledger.core.lifecycle): entering a part starts its tasks, a task that dies
fails the part at once, and leaving stops it within its grace, with nothing left running."""

from __future__ import annotations

import asyncio
import time

import pytest

from runledger.core.lifecycle import Service, first


class Bug(Exception):
    pass


class Part(Service):
    """A part whose one task waits for `release` and whose in-flight work waits for `finished`."""

    name = "part"

    def __init__(self, *, grace: float = 5.0) -> None:
        super().__init__()
        self.grace = grace
        self.release = asyncio.Event()
        self.finished = asyncio.Event()
        self.steps: list[str] = []
        self.crash: BaseException | None = None

    async def _start(self) -> None:
        self.spawn(self._loop(), name="part-loop")

    async def _loop(self) -> None:
        await self.release.wait()
        if self.crash is not None:
            raise self.crash

    async def _quiesce(self) -> None:
        self.steps.append("quiesce")

    async def _finish(self) -> None:
        self.steps.append("finish")
        await self.finished.wait()

    async def _close(self) -> None:
        self.steps.append("close")


def tasks_named(name: str) -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


async def test_entering_starts_the_tasks_and_leaving_ends_them_all():
    part = Part()
    part.finished.set()
    async with part:
        assert tasks_named("part-loop")
    assert not tasks_named("part-loop")
    assert part.steps == ["quiesce", "finish", "close"]


async def test_a_task_that_dies_fails_the_part_at_once():
    part = Part()
    with pytest.raises(Bug):
        async with part:
            part.crash = Bug("boom")
            part.release.set()
            await asyncio.wait_for(first(parts=[part], stop=asyncio.Event().wait()), 5)
    assert part.steps == ["quiesce", "close"], "a failed part does not wait for in-flight work"


async def test_a_task_that_returns_while_the_part_runs_is_a_failure_too():
    part = Part()
    with pytest.raises(RuntimeError, match="part-loop ended unexpectedly"):
        async with part:
            part.release.set()
            await asyncio.wait_for(asyncio.shield(part.failed), 5)


async def test_a_failure_is_raised_when_the_context_exits_even_if_the_owner_never_looked():
    part = Part()
    with pytest.raises(Bug):
        async with part:
            part.crash = Bug("unnoticed")
            part.release.set()
            await asyncio.wait({part.failed}, timeout=5)


async def test_the_stop_waits_for_in_flight_work_no_longer_than_the_grace():
    part = Part(grace=0.2)
    started = time.monotonic()
    async with part:
        pass  # `finished` is never set: the work in flight outlasts the grace
    assert time.monotonic() - started < 2
    assert part.steps == ["quiesce", "finish", "close"] and not tasks_named("part-loop")


async def test_a_stop_cut_short_by_a_cancellation_still_closes_and_the_cancellation_goes_on():
    part = Part(grace=30)

    async def owner() -> None:
        async with part:
            part.steps.append("running")
            await asyncio.Event().wait()

    task = asyncio.create_task(owner(), name="owner")
    while "running" not in part.steps:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert part.steps == ["running", "quiesce", "close"] and not tasks_named("part-loop")
