"""A typed client of the runledger HTTP API, and the query commands built on it.

This folder imports nothing else of runledger (the import contract in pyproject.toml says so): it
reads the server over HTTP only, as any other program would. See docs/client.md.
"""

from runledger.client.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    RunledgerError,
    ServerError,
    Unauthorized,
    Unavailable,
    Unreachable,
)
from runledger.client.session import DEFAULT_SERVER, RunledgerClient

__all__ = ["DEFAULT_SERVER", "BadRequest", "Forbidden", "NotFound", "RunledgerClient", "RunledgerError",
           "ServerError", "Unauthorized", "Unavailable", "Unreachable"]  # fmt: skip
