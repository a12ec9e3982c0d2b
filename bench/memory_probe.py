"""Runs the runledger CLI under tracemalloc; SIGUSR1 writes where memory is held (bench.memory).

    python -m bench.memory_probe DIR run ...

On the signal: the top allocation sites by line and by file (live blocks only), gc's counts per
generation and of objects frozen at start-up, then DIR/snapshot.done.
"""

from __future__ import annotations

import gc
import signal
import sys
import tracemalloc
from pathlib import Path


def report(directory: Path) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    current, peak = tracemalloc.get_traced_memory()
    lines = [f"traced {current / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB",
             f"gc counts {gc.get_count()}, tracked objects {len(gc.get_objects())}, frozen {gc.get_freeze_count()}"]  # fmt: skip
    for key, top in (("filename", 40), ("lineno", 60)):
        stats = snapshot.statistics(key)
        lines.append(f"\n## by {key}")
        lines += [
            f"{s.size / 2**20:8.2f} MB {s.count:>9} blocks  {s.traceback[0]}"
            for s in stats[:top]
        ]
    (directory / "tracemalloc.txt").write_text("\n".join(lines) + "\n")
    (directory / "snapshot.done").touch()


def main() -> None:
    directory = Path(sys.argv[1])
    tracemalloc.start(1)
    signal.signal(signal.SIGUSR1, lambda *_: report(directory))
    from runledger.cli import main as cli

    raise SystemExit(cli(sys.argv[2:]))


if __name__ == "__main__":
    main()
