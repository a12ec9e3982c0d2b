"""Progress of long work (a replay): a bar with rate and ETA on a terminal, a line now and then in logs.

A person at a terminal watches the bar; a pod's log gets one summary line per interval instead of a
bar's control codes, so a long run shows it is moving without flooding the log.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar
from rich.text import Text

log = logging.getLogger(__name__)


class _Rate(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} {self.unit}/s")


class Progress:
    """Counts work done; shown as it goes. Use as a context manager around the work."""

    def __init__(
        self, *, what: str, unit: str, total: int | None = None, interval: float = 10.0, stream: TextIO | None = None
    ) -> None:
        self.what, self.unit, self.total, self.interval = what, unit, total, interval
        self.done = 0
        self._stream = stream or sys.stderr
        self._bar: Bar | None = None
        self._started = self._next_line = 0.0

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._next_line = self._started + self.interval
        if self._stream.isatty():
            self._bar = Bar(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(self.unit),
                TimeRemainingColumn(), console=Console(file=self._stream),
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif time.monotonic() >= self._next_line:
            self._next_line = time.monotonic() + self.interval
            self.log_line()

    def log_line(self) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self.done / elapsed
        left = f", about {(self.total - self.done) / rate:.0f}s left" if self.total and rate else ""
        of = f" of {self.total}" if self.total else ""
        log.info("%s progress: %d%s %s, %.0f %s/s%s", self.what, self.done, of, self.unit, rate, self.unit, left)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
