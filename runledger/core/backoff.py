"""Jittered exponential delays between retries, shared by the watch streams, the
ingest writers and the event feed.

Jitter (each delay drawn from [half, all] of its step) keeps replicas and streams that failed
together from retrying together; the cap keeps a long outage from growing delays without bound.
"""

from __future__ import annotations

import random


class Backoff:
    """Jittered exponential delays, capped; reset after a success."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum, self.attempt = initial, maximum, 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0
