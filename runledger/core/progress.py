"""Progress of long work (a replay, migrations, an import): a bar with rate and ETA on a terminal, a
line now and then in logs.

A person at a terminal watches the bar; a pod's log gets one summary line per interval instead of a
bar's control codes, so a long run shows it is moving without flooding the log. An ETA needs a total
in the unit the work advances by: the caller gives the one that is cheap to know beforehand (the
bytes of the files a replay reads, a count of the rows an import will read, the pending migrations),
possibly once the work has begun (``set_total``). Without one, the rate is shown and the ETA is not.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger(__name__)


def amount(value: float, unit: str) -> str:
    """``value`` of ``unit`` for a person: bytes in kB/MB/GB, others as a grouped count."""
    if unit == "bytes":
        from rich.filesize import decimal

        return decimal(int(value))
    return f"{value:,.0f} {unit}"


class Progress:
    """Counts work done; shown as it goes. Use as a context manager around the work."""

    def __init__(
        self, *, what: str, unit: str, total: int | None = None, interval: float = 10.0, stream: TextIO | None = None
    ) -> None:
        self.what, self.unit, self.total, self.interval = what, unit, total, interval
        self.done = 0
        self._stream = stream or sys.stderr
        self._bar = None
        self._started = self._next_line = 0.0
        self._lines = 0

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._next_line = self._started + self.interval
        if self._stream.isatty():
            self._bar = _bar(self._stream, unit=self.unit)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def set_total(self, total: int | None) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, done: int) -> None:
        """The work done so far, in the unit (for work measured by position, e.g. bytes read)."""
        self.done = done
        if self._bar is not None:
            self._bar.update(self._task, completed=done)
        elif time.monotonic() >= self._next_line:
            self._next_line = time.monotonic() + self.interval
            self.log_line()

    def log_line(self, *, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self.done / elapsed
        left = ""
        if not final and self.total and rate:
            left = f", about {max(self.total - self.done, 0) / rate:.0f}s left"
        of = f" of {amount(self.total, self.unit)}" if self.total else ""
        state = f"done in {elapsed:.1f}s" if final else "progress"
        log.info("%s %s: %s%s, %s/s%s", self.what, state, amount(self.done, self.unit), of, amount(rate, self.unit),
                 left)  # fmt: skip
        self._lines += 1

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._lines:
            self.log_line(final=True)  # a log that said the work was under way also says it ended


def _bar(stream: TextIO, *, unit: str):  # noqa: ANN202 - rich is imported only for a terminal
    from rich.console import Console
    from rich.progress import BarColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar
    from rich.text import Text

    class Done(ProgressColumn):
        def render(self, task: Task) -> Text:
            if unit == "bytes":
                total = f"/{amount(task.total, unit)}" if task.total is not None else ""
                return Text(f"{amount(task.completed, unit)}{total}")
            total = f"/{task.total:,.0f}" if task.total is not None else ""
            return Text(f"{task.completed:,.0f}{total} {unit}")

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{amount(task.speed or 0, unit)}/s")

    return Bar(TextColumn("{task.description}"), BarColumn(), Done(), Rate(), TimeRemainingColumn(),
               TextColumn("left"), console=Console(file=stream))  # fmt: skip
