"""Typed application keys for the resources handlers share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from runledger.core.settings import Settings

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]

POOL = web.AppKey("pool", asyncpg.Pool)
SETTINGS = web.AppKey("settings", Settings)
# Extra checks registered by whatever runs beside the API (the agent): name -> check.
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])
LIVENESS_CHECKS = web.AppKey("liveness_checks", dict[str, ReadinessCheck])
