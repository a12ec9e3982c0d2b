"""Errors the read side raises for clients."""

from __future__ import annotations


class BadRequest(ValueError):
    """A client error: the message is safe to return as-is."""
