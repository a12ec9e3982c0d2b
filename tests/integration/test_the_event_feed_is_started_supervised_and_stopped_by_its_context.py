"""`async with EventHub(...)`: entering starts the listener, leaving ends every subscription and the
listener, and a listener that dies fails the hub at once. (The listener reconnects after any
Exception by design; only what is no Exception — a bug such as a BaseException — ends it.)"""

from __future__ import annotations

import asyncio

import pytest

from runledger.core.lifecycle import first
from runledger.store.transition_feed import SHUTDOWN, EventHub, Filter, SubscriptionClosed, pool_connector


class ListenerBug(BaseException):
    pass


def listener_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "event-feed-listener" and not t.done()]


async def test_leaving_the_context_ends_every_subscription_and_the_listener(pool):
    async with EventHub(connect=pool_connector(pool)) as hub:
        assert await hub.wait_ready(timeout=10)
        sub = hub.subscribe(Filter())
        assert listener_tasks()
    assert not listener_tasks()
    with pytest.raises(SubscriptionClosed) as closed:
        await sub.next(timeout=1)
    assert closed.value.reason == SHUTDOWN


async def test_a_listener_that_dies_fails_the_hub_at_once():
    async def connect():
        raise ListenerBug("the listener broke")

    with pytest.raises(ListenerBug):
        async with EventHub(connect=connect) as hub:
            await asyncio.wait_for(first(parts=[hub], stop=asyncio.Event().wait()), 10)
    assert not listener_tasks()
