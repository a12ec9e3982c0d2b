"""Errors the read side raises for clients; each message is safe to return as-is."""

from __future__ import annotations


class BadRequest(ValueError):
    """A client error (400)."""


class Unauthenticated(Exception):
    """No usable bearer token (401): missing, malformed, unknown or expired."""


class Forbidden(Exception):
    """The caller may not read what it asked for by name (403), e.g. a namespace."""


class AccessUnavailable(Exception):
    """Who the caller is, or what they may read, cannot be decided now (503): the reviewer is away."""
