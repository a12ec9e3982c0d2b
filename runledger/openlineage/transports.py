"""Where events go: an HTTP endpoint (Marquez's /api/v1/lineage, or any OpenLineage consumer) or a JSONL file.

openlineage-python's own transports are synchronous; these are async and tell the sender, per event,
whether it was acknowledged, should be retried (the endpoint is away or failing) or was refused for
good (a 4xx other than 408 and 429: resending the same document cannot help).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from runledger.core.settings import OpenLineageSettings


@dataclass(frozen=True)
class Outcome:
    sent: bool
    error: str | None = None
    refused: bool = False  # for good: never sent again


ACKNOWLEDGED = Outcome(sent=True)
TIMEOUT_SECONDS = 10.0  # one HTTP request


class Transport(Protocol):
    async def send_run(self, events: list[bytes]) -> list[Outcome]:
        """Send one run's events in order; stops at the first that is not acknowledged (later ones are
        left out of the result: they are sent after it, in a later round)."""

    async def close(self) -> None: ...


class HttpTransport:
    def __init__(self, *, url: str, api_key: str | None, timeout: float) -> None:
        self._url = url
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=timeout))

    async def send_run(self, events: list[bytes]) -> list[Outcome]:
        outcomes = []
        for body in events:
            outcome = await self._post(body)
            outcomes.append(outcome)
            if not outcome.sent and not outcome.refused:
                break
        return outcomes

    async def _post(self, body: bytes) -> Outcome:
        try:
            async with self._session.post(self._url, data=body, allow_redirects=False) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return ACKNOWLEDGED
                refused = 400 <= response.status < 500 and response.status not in (408, 429)
                return Outcome(sent=False, error=f"HTTP {response.status}", refused=refused)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Outcome(sent=False, error=f"{type(exc).__name__}: {exc}"[:500])

    async def close(self) -> None:
        await self._session.close()


class FileTransport:
    """Appends one JSON document a line; an event counts as sent once it is on disk (fsync)."""

    def __init__(self, *, path: Path) -> None:
        self._path = path
        self._lock = asyncio.Lock()  # runs are sent in parallel: one writer at a time keeps lines whole

    async def send_run(self, events: list[bytes]) -> list[Outcome]:
        try:
            async with self._lock:
                await asyncio.to_thread(self._append, events)
        except OSError as exc:
            return [Outcome(sent=False, error=f"cannot write {self._path}: {exc.strerror or exc}")]
        return [ACKNOWLEDGED] * len(events)

    def _append(self, events: list[bytes]) -> None:
        with open(self._path, "ab") as f:
            f.write(b"".join(e + b"\n" for e in events))
            f.flush()
            os.fsync(f.fileno())

    async def close(self) -> None:
        pass


def transport_of(openlineage: OpenLineageSettings) -> Transport:
    if openlineage.url is not None:
        key = openlineage.api_key.get_secret_value() if openlineage.api_key else None
        return HttpTransport(url=openlineage.url, api_key=key, timeout=TIMEOUT_SECONDS)
    assert openlineage.file is not None
    return FileTransport(path=openlineage.file)
