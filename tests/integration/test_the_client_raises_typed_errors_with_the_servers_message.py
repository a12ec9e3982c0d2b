"""Every failure reaches the caller of the client as an exception of its kind, carrying the server's sentence."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from pydantic import SecretStr

from runledger.client import (
    BadRequest,
    Forbidden,
    NotFound,
    RunledgerClient,
    Unauthorized,
    Unavailable,
    Unreachable,
)
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve_limited
from tests.support.ingesting import ingest

GRANTS = [{"token": "reader-a-0123456789abcdef", "user": "reader-a", "namespaces": ["team-a"]}]


async def test_not_found_bad_request_unauthorized_and_forbidden_carry_the_servers_message(pool, settings):
    await ingest(pool, settings, [WorkflowBuilder(name="a1", namespace="team-a").phase("Succeeded").event("ADDED")])
    configured = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(GRANTS))})
    async with serve_limited(settings=configured, pool=pool) as (host, port):
        # A blocking client, and the server is served by this loop: the client runs in a thread.
        not_found, bad, forbidden, unauthorized = await asyncio.to_thread(_failures, f"http://{host}:{port}")
    assert (not_found.value.status, str(not_found.value)) == (404, "no run with this id")
    assert bad.value.status == 400 and "unknown sort key 'bogus'" in str(bad.value)
    assert forbidden.value.status == 403 and "team-b" in str(forbidden.value)
    assert unauthorized.value.status == 401 and str(unauthorized.value)


def _failures(server: str) -> tuple[pytest.ExceptionInfo, ...]:
    with RunledgerClient(server, token="reader-a-0123456789abcdef") as client:
        assert [r.name for r in client.list_runs().runs] == ["a1"]
        with pytest.raises(NotFound) as not_found:
            client.get_run("nope")
        with pytest.raises(BadRequest) as bad:
            client.list_runs(sort="bogus")
        with pytest.raises(Forbidden) as forbidden:
            client.list_runs(namespace="team-b")
    with RunledgerClient(server, token="someone-else-0123456789") as stranger:
        with pytest.raises(Unauthorized) as unauthorized:
            stranger.list_runs()
    return not_found, bad, forbidden, unauthorized


def test_a_server_that_is_not_there_is_unreachable_a_kind_of_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with RunledgerClient(f"http://127.0.0.1:{port}") as client:
            with pytest.raises(Unreachable, match=f"cannot reach http://127.0.0.1:{port}") as caught:
                client.list_runs()
    assert isinstance(caught.value, Unavailable) and caught.value.status is None
