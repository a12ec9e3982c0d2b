"""The client for asyncio programs against a seeded API over real HTTP: the same typed answers and
errors, awaited; pages followed by `async for`; a stream that waits for events does not hold up the
calls made meanwhile, and leaving it closes its connection at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runledger.client import NotFound, RunledgerClient, Unreachable
from runledger.client.asynchronous import AsyncRunledgerClient
from runledger.client.models import RunDetail
from tests.support.live_api import seeded_api
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def base_url(pg_server_uri, template_database, moto_server, tmp_path_factory):
    with seeded_api(server_uri=pg_server_uri, template=template_database, moto=moto_server,
                    tmp_path=tmp_path_factory.mktemp("async-client")) as url:  # fmt: skip
        yield url


async def test_the_async_client_answers_what_the_client_answers(base_url):
    with RunledgerClient(base_url) as client:
        expected = [run.id for run in client.iter_runs()]
        gamma = client.find_run("uid-gamma")
    async with AsyncRunledgerClient(base_url) as client:
        paged = [run.id async for run in client.iter_runs(page_size=2)]
        found = await client.find_run(f"{gamma.namespace}/gamma")
        graph = await client.lineage("run:uid-reader", direction="upstream")
        with pytest.raises(NotFound, match="no run named 'nope' in namespace 'ml'"):
            await client.find_run("ml/nope")
    assert paged == expected and len(paged) > 4
    assert isinstance(found, RunDetail) and found == gamma
    assert graph.nodes


async def test_calls_on_one_client_run_one_at_a_time_and_all_answer(base_url):
    async with AsyncRunledgerClient(base_url) as client:
        answers = await asyncio.gather(*(client.get_run(run_id) for run_id in ["uid-alpha", "uid-gamma"] * 10))
    assert [a.id for a in answers] == ["uid-alpha", "uid-gamma"] * 10


async def test_a_waiting_stream_holds_up_no_call_and_leaving_it_closes_it_at_once(base_url):
    async with AsyncRunledgerClient(base_url) as client:
        received = []

        async def follow() -> None:
            async for kind, event in client.events(last_event_id=0):
                received.append((kind, event.id))

        follower = asyncio.create_task(follow())
        try:
            await eventually(lambda: _some(received))  # the stored history first, then the stream waits
            page = await asyncio.wait_for(client.list_runs(limit=1), 5)
            assert page.runs and not follower.done()
        finally:
            follower.cancel()
        done, _ = await asyncio.wait([follower], timeout=5)
        assert done and follower.cancelled()
    assert [kind for kind, _ in received] and all(kind in ("run", "step") for kind, _ in received)


async def _some(items: list) -> bool:
    return bool(items)


def test_closing_a_client_ends_the_stream_another_thread_is_reading(base_url):
    client = RunledgerClient(base_url)
    outcome: list[BaseException | None] = []
    reading = threading.Event()

    def follow() -> None:
        try:
            for _ in client.events(last_event_id=0):
                reading.set()
        except BaseException as exc:  # noqa: BLE001 (what ended the stream is the finding)
            outcome.append(exc)

    worker = threading.Thread(target=follow, daemon=True)
    worker.start()
    assert reading.wait(10)
    client.close()
    # The server's next heartbeat is 15 s away: only a closed connection ends the read sooner.
    worker.join(5)
    assert not worker.is_alive() and isinstance(outcome[0], Unreachable)
