"""The client sends its requests on one kept-alive connection, and when the server closed that connection
while it sat idle (without saying so, as an idle timeout does), it sends the GET again on a new one
instead of failing."""

from __future__ import annotations

from runledger.client import RunledgerClient
from tests.support.canned_http import canned_server

EMPTY_PAGE = {"runs": [], "next_page_token": None}


def test_requests_share_one_kept_alive_connection():
    with canned_server(EMPTY_PAGE) as server, RunledgerClient(server.url) as client:
        pages = [client.list_runs() for _ in range(3)]
        assert server.connections == 1
    assert all(page.runs == [] for page in pages)


def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_request_answered():
    with canned_server(EMPTY_PAGE, close_after_answer=True) as server, RunledgerClient(server.url) as client:
        pages = [client.list_runs() for _ in range(3)]
        assert server.connections == 3
    assert all(page.runs == [] for page in pages)
