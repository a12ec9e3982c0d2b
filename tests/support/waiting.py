"""Wait for a condition with a deadline, never for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def holds(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """`eventually`, for a condition that needs no await (a counter, a state)."""

    async def checked() -> bool:
        return check()

    await eventually(checked, timeout=timeout)
