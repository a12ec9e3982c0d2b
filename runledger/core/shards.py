"""Splitting one cluster between several agents: each records the namespaces its shard owns.

A namespace belongs to shard ``first 32 bits of md5(namespace) mod count``: a hash that every
process and Postgres compute alike (``sql/queries/cluster.sql`` repeats it), so a shard's
reconcile after a list marks deleted only the runs of its own namespaces. All of a namespace's
workflows and pods land on one shard, which keeps a run and its pods together.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def namespace_hash(namespace: str) -> int:
    return int.from_bytes(hashlib.md5(namespace.encode(), usedforsecurity=False).digest()[:4], "big")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """``"i/n"``, 0 ≤ i < n: the i-th of n shards."""
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"{spec!r} is not a shard: write INDEX/COUNT, e.g. 0/3 for the first of three")
        index, count = int(match[1]), int(match[2])
        if count < 1 or index >= count:
            raise ValueError(f"shard {spec!r}: the index counts from 0 and must be below the count (0/{max(count, 1)})")
        return cls(index=index, count=count)

    def owns(self, namespace: str) -> bool:
        return namespace_hash(namespace) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
