"""The review cache: answers reused for a while, one load per key at a time, failures never kept."""

from __future__ import annotations

import asyncio

import pytest

from runledger.api.access_reviews import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_an_answer_is_reused_until_it_expires():
    clock, loads = Clock(), []

    async def load():
        loads.append(clock.now)
        return len(loads)

    cache = TtlCache(ttl=30, max_entries=10, clock=clock)
    assert [await cache.get("k", load) for _ in range(3)] == [1, 1, 1]
    clock.now = 31
    assert await cache.get("k", load) == 2
    assert loads == [0.0, 31]


async def test_concurrent_requests_for_one_key_share_one_load():
    gate, loads = asyncio.Event(), 0

    async def load():
        nonlocal loads
        loads += 1
        await gate.wait()
        return "yes"

    cache = TtlCache(ttl=30, max_entries=10)
    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == ["yes"] * 5
    assert loads == 1


async def test_a_failure_reaches_every_waiter_and_is_not_cached():
    gate, outcomes = asyncio.Event(), [RuntimeError("reviewer away"), "ok"]

    async def load():
        await gate.wait()
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    cache = TtlCache(ttl=30, max_entries=10)
    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.get("k", load) == "ok"


async def test_a_waiter_loads_again_when_the_loading_request_is_cancelled():
    started, gate = asyncio.Event(), asyncio.Event()

    async def slow():
        started.set()
        await gate.wait()
        return "never"

    async def fast():
        return "fresh"

    cache = TtlCache(ttl=30, max_entries=10)
    leader = asyncio.create_task(cache.get("k", slow))
    await started.wait()
    follower = asyncio.create_task(cache.get("k", fast))
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await follower == "fresh"


async def test_the_oldest_answers_are_dropped_beyond_the_cap():
    cache = TtlCache(ttl=30, max_entries=2)
    for key in "abc":
        await cache.get(key, lambda key=key: asyncio.sleep(0, key))
    assert len(cache) == 2
    loads = []

    async def again():
        loads.append("a")
        return "a2"

    assert await cache.get("a", again) == "a2" and loads == ["a"]
