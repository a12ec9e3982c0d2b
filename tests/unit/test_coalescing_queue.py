"""The coalescing queue: newest item per key, one consumer per key, bounded intake."""

from __future__ import annotations

import asyncio

import pytest

from runledger.agent.queueing import CoalescingQueue


async def test_a_newer_item_replaces_a_pending_one_for_the_same_key():
    queue: CoalescingQueue[str, int] = CoalescingQueue(max_keys=10)
    await queue.put("a", 1)
    await queue.put("a", 2)
    await queue.put("b", 1)
    assert await queue.get_batch(10) == [("a", 2), ("b", 1)]
    assert queue.coalesced == 1


async def test_a_key_in_progress_is_not_handed_out_again_until_done():
    queue: CoalescingQueue[str, int] = CoalescingQueue(max_keys=10)
    await queue.put("a", 1)
    assert await queue.get_batch(10) == [("a", 1)]
    await queue.put("a", 2)
    await queue.put("b", 1)
    assert await queue.get_batch(10) == [("b", 1)]  # "a" is still being processed
    await queue.done(["a"])
    assert await queue.get_batch(10) == [("a", 2)]


async def test_keys_come_out_in_arrival_order_and_batches_respect_their_size():
    queue: CoalescingQueue[int, int] = CoalescingQueue(max_keys=100)
    for i in range(5):
        await queue.put(i, i)
    assert [k for k, _ in await queue.get_batch(3)] == [0, 1, 2]
    assert [k for k, _ in await queue.get_batch(3)] == [3, 4]


async def test_intake_of_a_new_key_waits_while_the_queue_is_full():
    queue: CoalescingQueue[str, int] = CoalescingQueue(max_keys=2)
    await queue.put("a", 1)
    await queue.put("b", 1)
    await queue.put("a", 2)  # an already pending key never waits
    blocked = asyncio.create_task(queue.put("c", 1))
    await asyncio.sleep(0)
    assert not blocked.done()
    batch = await queue.get_batch(1)
    await asyncio.wait_for(blocked, timeout=1)
    await queue.done([k for k, _ in batch])
    assert len(queue) == 2


async def test_a_requeued_item_does_not_override_a_newer_one():
    queue: CoalescingQueue[str, int] = CoalescingQueue(max_keys=10)
    await queue.put("a", 1)
    (item,) = await queue.get_batch(10)
    await queue.put("a", 2)
    queue.put_back("a", 1)
    await queue.done(["a"])
    assert await queue.get_batch(10) == [("a", 2)]


async def test_what_a_newer_item_keeps_of_the_one_it_replaces_is_up_to_merge():
    queue: CoalescingQueue[str, str] = CoalescingQueue(max_keys=10, merge=lambda item, replaced: replaced + item)
    await queue.put("a", "1")
    await queue.put("a", "2")
    assert await queue.get_batch(10) == [("a", "12")]
    await queue.put("a", "3")
    queue.put_back("a", "12")  # its write failed: it is older than what arrived meanwhile
    await queue.done(["a"])
    assert await queue.get_batch(10) == [("a", "123")]


async def test_wait_idle_returns_once_everything_is_done():
    queue: CoalescingQueue[str, int] = CoalescingQueue(max_keys=10)
    await queue.put("a", 1)
    waiter = asyncio.create_task(queue.wait_idle())
    batch = await queue.get_batch(10)
    await asyncio.sleep(0)
    assert not waiter.done()
    await queue.done([k for k, _ in batch])
    await asyncio.wait_for(waiter, timeout=1)


def test_a_queue_needs_room_for_at_least_one_key():
    with pytest.raises(ValueError):
        CoalescingQueue(max_keys=0)
