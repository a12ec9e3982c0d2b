"""Two senders against one database (two replicas, or a leader hand-over) never send at the same moment: the
advisory lock lets one round run at a time, so the endpoint never sees overlapping requests, and every event
arrives exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from runledger.openlineage.sender import LineageSender
from runledger.openlineage.transports import transport_of
from tests.support.ingesting import ingest
from tests.support.lineage import queued, workflow_histories
from tests.support.processes import free_port
from tests.support.waiting import eventually


class OverlapRecorder:
    """An OpenLineage endpoint that answers slowly and records how many requests were in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_at_once = 0
        self.bodies: list[bytes] = []

    async def lineage(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_at_once = max(self.most_at_once, self.in_flight)
        try:
            await asyncio.sleep(0.01)  # holds the request open so an overlap, if any, is seen
            self.bodies.append(await request.read())
            return web.Response(status=201)
        finally:
            self.in_flight -= 1


async def test_two_senders_never_overlap_and_deliver_each_event_once(pool, conn, settings):
    recorder = OverlapRecorder()
    app = web.Application()
    app.router.add_post("/api/v1/lineage", recorder.lineage)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        on = settings.updated(openlineage={"url": f"http://127.0.0.1:{port}/api/v1/lineage"})
        await ingest(pool, on, workflow_histories(4))
        expected = await queued(conn)

        def sender() -> LineageSender:
            # concurrency=1: within one sender requests are serial, so any overlap is between the two senders
            return LineageSender(pool=pool, transport=transport_of(on.openlineage), batch=3, poll_seconds=0.01, concurrency=1)

        async def all_sent() -> bool:
            return await conn.fetchval("SELECT count(*) FROM openlineage_outbox WHERE sent_at IS NULL") == 0

        async with sender(), sender():
            await eventually(all_sent, timeout=60)
    finally:
        await runner.cleanup()
    assert recorder.most_at_once == 1
    assert len(recorder.bodies) == len(expected)
    assert max(Counter(recorder.bodies).values()) == 1
