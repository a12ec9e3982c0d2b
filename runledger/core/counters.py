"""Counters the service keeps about itself, shared by both sides and exported on /metrics.

A latency histogram here is a plain bucket array: observing costs a bisect and two additions, and
the exporter reads it at scrape time, so the hot path never touches the Prometheus client.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily

DEFAULT_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class LatencyHistogram:
    buckets: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)  # per bucket, not cumulative; the last one is +Inf
    sum: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, observations ≤ it) as Prometheus wants them, ending with +Inf."""
        total, out = 0, []
        for bound, n in zip([*map(str, self.buckets), "+Inf"], self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out


def counted_by(name: str, documentation: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    """A counter with one label, from a dict of counts the service keeps (kind -> n)."""
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, n in sorted(counts.items()):
        family.add_metric([value], n)
    return family
