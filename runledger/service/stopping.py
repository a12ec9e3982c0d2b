"""The stop signals of a long-running command: the first SIGINT/SIGTERM stops it gracefully, a second exits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignal:
    """First SIGINT/SIGTERM: graceful stop (`event` is set). Second: exit now."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle the signals for as long as the command runs; the loop's defaults come back after."""
        self.install()
        try:
            yield
        finally:
            self.remove()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.event.is_set():
            log.warning("second %s: exiting now", sig.name)
            os._exit(130)
        log.info("%s: stopping (send again to exit at once)", sig.name)
        self.event.set()
