"""What a command reports to a person: one or two clear lines and an exit code, never a traceback."""

from __future__ import annotations


class CommandError(Exception):
    """A failure whose message says what is wrong and what to do; the command exits with `code`
    (2: what it was given is wrong, 1: it failed at run time)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code
