"""Which database errors mean "the database is away, try again": one answer for every component."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from asyncpg.exceptions import _base

from runledger.store.connection import is_retried_by_pollers, is_transient

AWAY = [
    # The connection broke in the middle of the protocol (the server died mid-reply).
    _base.InternalClientError("cannot switch to state 15; protocol is in the \"failed\" state"),
    _base.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    _base.ProtocolError("unexpected message"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.InterfaceError("cannot call Connection.fetch(): connection has been released back to the pool"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.ConnectionFailureError("connection failure"),
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionRefusedError(111, "Connection refused"),
    BrokenPipeError(32, "Broken pipe"),
    OSError(2, "No such file or directory"),  # the Unix socket of a stopped server
    TimeoutError(),
    asyncio.TimeoutError(),
    # The server is starting, stopping, recovering or full.
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    # The same transaction may well commit on a second try.
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
]

ABOUT_THE_DATA_OR_THE_SQL = [
    # asyncpg's own DataError: an argument that cannot be encoded (an InterfaceError, not a PostgresError).
    _base.DataError("invalid input for query argument $1: 'x' (an integer is required)"),
    _base.ClientConfigurationError("invalid connection option"),
    asyncpg.DataError("numeric field overflow"),
    asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.UndefinedTableError('relation "runs" does not exist'),
    asyncpg.PostgresSyntaxError("syntax error at or near"),
    asyncpg.InvalidTextRepresentationError("invalid input syntax for type uuid"),
    ValueError("not a database error at all"),
    RuntimeError("a bug"),
]


@pytest.mark.parametrize("exc", AWAY, ids=lambda e: f"{type(e).__name__}")
def test_errors_of_an_unreachable_or_broken_connection_are_transient(exc: BaseException):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", ABOUT_THE_DATA_OR_THE_SQL, ids=lambda e: f"{type(e).__name__}")
def test_errors_about_the_data_or_the_sql_are_not_transient(exc: BaseException):
    assert not is_transient(exc)


CANCELLED = [
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.QueryCanceledError("canceling statement due to lock timeout"),
]


@pytest.mark.parametrize("exc", CANCELLED, ids=lambda e: str(e))
def test_a_cancelled_statement_is_retried_by_pollers_but_is_no_outage(exc: BaseException):
    assert is_retried_by_pollers(exc) and not is_transient(exc)


@pytest.mark.parametrize("exc", AWAY, ids=lambda e: f"{type(e).__name__}")
def test_pollers_retry_everything_transient(exc: BaseException):
    assert is_retried_by_pollers(exc)


@pytest.mark.parametrize("exc", ABOUT_THE_DATA_OR_THE_SQL, ids=lambda e: f"{type(e).__name__}")
def test_pollers_do_not_retry_errors_about_the_data_or_the_sql(exc: BaseException):
    assert not is_retried_by_pollers(exc)
