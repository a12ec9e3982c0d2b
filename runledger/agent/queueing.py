"""A keyed, coalescing, bounded work queue (the shape of client-go's workqueue).

* One pending item per key: a newer item for a key that is still waiting replaces the older one
  (only the newest state of a workflow matters), so memory is bounded by the number of keys.
  Newer means later in the object's own order, not in arrival order: ``refuse`` may keep the
  item a key holds (pending, else in progress) against one that must not take its place, and
  ``merge`` may carry into the newer item what it must keep of the replaced one.
* A key is handed to at most one consumer at a time (by ``get_batch()``, or ``claim()`` for items a
  consumer brings itself), and comes back only after ``done()``: items of one key are processed in
  order, items of different keys in parallel.
* ``put()`` of a new key waits while ``max_keys`` keys are pending: a slow consumer (a slow or absent
  database) slows intake down instead of growing memory.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _accept(item: object, held: object) -> None:
    return None


def _newest(item: V, replaced: V) -> V:
    return item


class CoalescingQueue(Generic[K, V]):
    def __init__(
        self,
        *,
        max_keys: int,
        kind: Callable[[K], str] = lambda key: "",
        refuse: Callable[[V, V], str | None] = _accept,
        merge: Callable[[V, V], V] = _newest,
    ) -> None:
        """`kind` names the sort of a key (a small fixed set) for `coalesced_by`.

        `refuse(item, held)` says why `item` must not follow `held`, the item its key holds, or
        None when it may. `merge(item, replaced)` is what the key holds once `item` replaced the
        pending `replaced` (older, never processed).
        """
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._kind = kind
        self._refuse = refuse
        self._merge = merge
        self._pending: dict[K, V] = {}
        self._ready: deque[K] = deque()  # pending keys not in progress, in arrival order
        self._in_progress: dict[K, V] = {}
        self._changed = asyncio.Condition()
        self.coalesced_by: Counter[str] = Counter()  # items replaced by a newer one before being processed

    @property
    def coalesced(self) -> int:
        return sum(self.coalesced_by.values())

    def __len__(self) -> int:
        """Pending keys (in progress ones not counted unless they have a newer item waiting)."""
        return len(self._pending)

    @property
    def in_progress(self) -> int:
        return len(self._in_progress)

    def pending_items(self) -> list[V]:
        return list(self._pending.values())

    def pending(self, key: K) -> V | None:
        return self._pending.get(key)

    def holds(self, key: K) -> bool:
        """Whether `key` is pending or in progress."""
        return key in self._pending or key in self._in_progress

    def idle(self) -> bool:
        return not self._pending and not self._in_progress

    async def put(self, key: K, item: V) -> str | None:
        """Queue `item`; returns why it was refused (the key keeps what it holds), or None."""
        async with self._changed:
            if key not in self._pending:
                await self._changed.wait_for(lambda: len(self._pending) < self._max_keys or key in self._pending)
            refused = self._refusal(key, item)
            if refused is None:
                self._store(key, item)
                self._changed.notify_all()
            return refused

    def _refusal(self, key: K, item: V) -> str | None:
        for held in (self._pending, self._in_progress):
            if key in held:
                return self._refuse(item, held[key])
        return None

    def put_back(self, key: K, item: V) -> None:
        """Give an item back (after a failed write); a newer one that arrived meanwhile replaces it.

        Ignores the bound on purpose: the key was already counted when its item was first put. A
        pending item was checked against this one by `put` while this one was in progress.
        """
        if key in self._pending:
            self._pending[key] = self._merge(self._pending[key], item)
        else:
            self._store(key, item)

    def _store(self, key: K, item: V) -> None:
        if key in self._pending:
            self.coalesced_by[self._kind(key)] += 1
            item = self._merge(item, self._pending[key])
        elif key not in self._in_progress:
            self._ready.append(key)
        self._pending[key] = item

    async def get_batch(self, max_items: int) -> list[tuple[K, V]]:
        """Wait for at least one ready key; take up to `max_items` of them, marking them in progress."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._ready))
            batch: list[tuple[K, V]] = []
            while self._ready and len(batch) < max_items:
                key = self._ready.popleft()
                item = self._pending.pop(key)
                batch.append((key, item))
                self._in_progress[key] = item
            self._changed.notify_all()
            return batch

    def claim(self, items: list[tuple[K, V]]) -> bool:
        """Mark items that were never queued in progress, as get_batch marks what it takes: their
        consumer processes them and calls done(). Claims none, and returns False, when the queue
        holds any of their keys already (pending or in progress)."""
        if any(self.holds(key) for key, _ in items):
            return False
        self._in_progress.update(items)
        return True

    async def done(self, keys: list[K]) -> None:
        """Release keys; those that received a newer item while in progress become ready again."""
        async with self._changed:
            for key in keys:
                self._in_progress.pop(key, None)
                if key in self._pending:
                    self._ready.append(key)
            self._changed.notify_all()

    async def wait_idle(self) -> None:
        async with self._changed:
            await self._changed.wait_for(self.idle)

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
