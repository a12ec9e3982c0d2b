"""Typed application keys for the resources handlers share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from runledger.core.settings import ApiSettings, CostSettings, EventsSettings
from runledger.indexer.s3 import ObjectStore
from runledger.store.read_routing import ReadRouter

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]

# The primary's pool: the event feed's LISTEN and whatever must see the newest writes.
POOL = web.AppKey("pool", asyncpg.Pool)
# Where reads go: a standby within the lag bound, else the primary (runledger/store/read_routing.py).
READS = web.AppKey("reads", ReadRouter)
# The groups of settings handlers read.
API_SETTINGS = web.AppKey("api_settings", ApiSettings)
EVENTS_SETTINGS = web.AppKey("events_settings", EventsSettings)
COST_SETTINGS = web.AppKey("cost_settings", CostSettings)
# Extra checks registered by whatever runs beside the API (the agent): name -> check.
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])
LIVENESS_CHECKS = web.AppKey("liveness_checks", dict[str, ReadinessCheck])


class ObjectStoreSlot:
    """The API's S3 access, for the endpoints that read objects (step logs, artifact previews).

    A slot rather than the store itself: `runledger run` starts the demo's S3 server after the app
    has started, and then points the API at it, as it points the indexer.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    async def replace(self, store: ObjectStore) -> None:
        old, self.store = self.store, store
        await old.close()


OBJECT_STORE = web.AppKey("object_store", ObjectStoreSlot)
