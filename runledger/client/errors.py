"""What the client raises: one exception type per kind of failure, each carrying the server's message.

Callers catch the kind they can act on (``NotFound`` for an unknown id, ``Unavailable`` to retry later)
or ``RunledgerError`` for all of them. ``str(error)`` is the server's own sentence, fit to show a person.
"""

from __future__ import annotations


class RunledgerError(Exception):
    """Any failed request: ``status`` is the HTTP status (None when no answer came), ``code`` the API's error code."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class BadRequest(RunledgerError):
    """400: a malformed or unknown parameter, or a page token of another query."""


class Unauthorized(RunledgerError):
    """401: the server wants a bearer token and got none it accepts."""


class Forbidden(RunledgerError):
    """403: the token's user may not read the namespace asked for."""


class NotFound(RunledgerError):
    """404: nothing matches the id or reference."""


class Unavailable(RunledgerError):
    """503 or a timeout: the server (or its database) cannot answer now; worth retrying later."""


class Unreachable(Unavailable):
    """No HTTP answer at all: nothing listens at the address, or the connection broke."""


class ServerError(RunledgerError):
    """Any other answer that is not a success (a 500, a proxy's 502…)."""


BY_STATUS: dict[int, type[RunledgerError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 503: Unavailable, 504: Unavailable,
}  # fmt: skip


def error_for(status: int, message: str, *, code: str | None = None) -> RunledgerError:
    return BY_STATUS.get(status, ServerError)(message, status=status, code=code)
