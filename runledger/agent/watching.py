"""One generic list+watch loop, used for Workflows and for Pods.

The loop (kubernetes-asyncio's ``Watch`` does not do this part for you):

1. **List** in pages (``limit`` + ``continue``) so a cluster with 100,000 workflows never needs one
   giant response. Every listed object goes to the handler as ADDED; at the end the handler is told
   which objects the list held, so it can reconcile (mark deleted what is gone).
2. **Watch** from the list's resourceVersion with ``allowWatchBookmarks`` and a server-side
   ``timeoutSeconds``; the resourceVersion of every event and bookmark becomes the resume point.
   A stream the server ends normally is reopened from there at once.
3. **410 Gone** — as an HTTP status, as an ERROR event in the stream, or as an expired ``continue``
   token — means the resume point was compacted away: list again (never resume from a stale point,
   never treat it as fatal). Any other ERROR event restarts the stream after a backoff.
4. Failures back off on a finite, jittered exponential schedule; 429 honours ``Retry-After``; a
   socket silent for longer than the inactivity timeout is abandoned. Never a tight loop. The
   schedule starts over only once a watch delivers (an event, a bookmark, a clean end): a server
   that accepts a watch and fails it at once is still failing. Likewise for 410s: the first relists
   at once, but another before the new watch delivered anything means compaction outruns the
   relist, so the next relist waits.

A checkpoint (the resourceVersion up to which everything received has been persisted) is saved now and
then, so a restarted agent resumes with a watch rather than a full relist if the server still has it.

Responses are read raw (``_preload_content=False``): the agent needs the JSON objects, not
kubernetes-asyncio's generated models, and reads watch lines itself to see bookmarks and errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson

from runledger.agent.translate import text_holds_no_nul
from runledger.core.backoff import Backoff
from runledger.core.run_state import WatchEvent, trusted

log = logging.getLogger(__name__)

# Why a stream started over (a new list or watch after the last one ended), as counted in
# StreamState.restarts: the watch ended cleanly (the server's timeoutSeconds), 410 Gone (relist),
# 429/5xx (retry later), the connection failed, broke or fell silent, or the server answered
# something unusable (an ERROR event, an unexpected status or body).
RESTART_REASONS = ("timeout", "gone", "throttled", "dropped", "error")

# A kubernetes-asyncio list function bound to its API object and scope, e.g.
# functools.partial(custom.list_cluster_custom_object, "argoproj.io", "v1alpha1", "workflows").
ListCall = Callable[..., Awaitable[Any]]


class Gone(Exception):
    """The requested resourceVersion or continue token is too old: relist."""


class RetryLater(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StreamHandler(Protocol):
    async def on_event(self, event: WatchEvent) -> None: ...

    async def on_list_started(self) -> None: ...

    async def on_listed(self, objects: list[dict[str, Any]]) -> None:
        """The full list is in (objects as namespace/name/uid summaries); reconcile against it."""
        ...


class CheckpointStore(Protocol):
    async def load(self, stream: str) -> str | None: ...

    async def save(self, stream: str, resource_version: str) -> None: ...


class Progress(Protocol):
    """Tells how far submitted events have been persisted (the ingestor)."""

    def submitted(self) -> int: ...

    def persisted_below(self) -> int: ...


@dataclass(frozen=True)
class WatchSettings:
    page_size: int = 500
    timeout_seconds: int = 300  # server-side watch timeout
    inactivity_seconds: float = 360.0  # client gives up on a silent socket
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    checkpoint_seconds: float = 5.0


@dataclass
class StreamState:
    """What /healthz and the metrics see of a stream."""

    name: str
    resource_version: str | None = None
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    connected: bool = False
    last_contact: float = field(default_factory=time.monotonic)
    counts: Counter = field(default_factory=Counter)  # events, bookmarks, lists, gone, errors, backoffs, ...
    restarts: Counter = field(default_factory=Counter)  # by reason, one of RESTART_REASONS


class WatchStream:
    def __init__(
        self,
        *,
        name: str,
        list_call: ListCall,
        handler: StreamHandler,
        settings: WatchSettings,
        checkpoints: CheckpointStore | None = None,
        progress: Progress | None = None,
        label_selector: str | None = None,
    ) -> None:
        self.state = StreamState(name=name)
        self._list_call = list_call
        self._handler = handler
        self._settings = settings
        self._checkpoints = checkpoints
        self._progress = progress
        self._label_selector = label_selector
        self._backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self._gone_in_a_row = 0  # 410s since a watch last delivered anything
        self._candidate: tuple[int, str] | None = None

    @property
    def name(self) -> str:
        return self.state.name

    async def run(self) -> None:
        """Run until cancelled. Only cancellation ends it; every failure is retried."""
        state = self.state
        rv = await self._checkpoints.load(self.name) if self._checkpoints else None
        if rv:
            log.info("%s: resuming watch from stored resourceVersion %s", self.name, rv)
        checkpointer = asyncio.create_task(self._checkpoint_loop(), name=f"checkpoint:{self.name}")
        try:
            while True:
                try:
                    if rv is None:
                        rv = await self._list()
                        state.synced.set()
                    rv = await self._watch(rv)
                    state.restarts["timeout"] += 1
                except Gone as exc:
                    state.counts["gone"] += 1
                    state.restarts["gone"] += 1
                    self._gone_in_a_row += 1
                    log.info("%s: %s; relisting", self.name, exc)
                    rv = None
                    # A relist right after a 410 is the protocol; only a 410 again before the new
                    # watch delivered anything slows down (a relist outrun by compaction).
                    if self._gone_in_a_row > 1:
                        await self._wait(self._backoff.next())
                except RetryLater as exc:
                    state.counts["throttled"] += 1
                    state.restarts["throttled"] += 1
                    delay = exc.retry_after if exc.retry_after is not None else self._backoff.next()
                    log.warning("%s: %s; retrying in %.1fs", self.name, exc, delay)
                    await self._wait(delay)
                except (aiohttp.ClientError, TimeoutError, OSError, StreamError) as exc:
                    state.counts["errors"] += 1
                    unusable = isinstance(exc, StreamError) and not isinstance(exc, SilentSocket)
                    state.restarts["error" if unusable else "dropped"] += 1
                    state.connected = False
                    delay = self._backoff.next()
                    log.warning("%s: %s: %s; reconnecting in %.1fs", self.name, type(exc).__name__, exc, delay)
                    await self._wait(delay)
        finally:
            state.connected = False
            checkpointer.cancel()
            await asyncio.gather(checkpointer, return_exceptions=True)

    async def _wait(self, delay: float) -> None:
        self.state.counts["backoffs"] += 1
        await asyncio.sleep(delay)

    def _delivered(self) -> None:
        """The watch works: whatever failed before is over."""
        self._backoff.reset()
        self._gone_in_a_row = 0

    # --- list ------------------------------------------------------------------------------

    async def _list(self) -> str:
        state = self.state
        state.counts["lists"] += 1
        await self._handler.on_list_started()
        summaries: list[dict[str, Any]] = []
        token: str | None = None
        list_rv: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": self._settings.page_size}
            if token:
                kwargs["_continue"] = token
            if self._label_selector:
                kwargs["label_selector"] = self._label_selector
            body, nul_free = await self._get_json(**kwargs)
            meta = body.get("metadata") or {}
            list_rv = list_rv or meta.get("resourceVersion")
            items = body.get("items")
            if not isinstance(items, list):
                raise StreamError("list response without items")
            for item in items:
                if not isinstance(item, dict):
                    state.counts["bad_objects"] += 1
                    continue
                summaries.append(_summary(item))
                event = {"type": "ADDED", "object": _with_kind(item, body), "nul_free": nul_free}
                await self._handler.on_event(trusted(WatchEvent, event))
            state.last_contact = time.monotonic()
            token = meta.get("continue") or None
            if not token:
                break
        if not list_rv:
            raise StreamError("list response without metadata.resourceVersion")
        await self._handler.on_listed(summaries)
        state.resource_version = list_rv
        log.info("%s: listed %d objects at resourceVersion %s", self.name, len(summaries), list_rv)
        return list_rv

    # --- watch -----------------------------------------------------------------------------

    async def _watch(self, rv: str) -> str:
        state = self.state
        kwargs: dict[str, Any] = {
            "watch": True,
            "resource_version": rv,
            "allow_watch_bookmarks": True,
            "timeout_seconds": self._settings.timeout_seconds,
            "_preload_content": False,
        }
        if self._label_selector:
            kwargs["label_selector"] = self._label_selector
        response = await self._call(**kwargs)
        async with response:
            await _raise_for_status(response)
            state.connected = True
            state.synced.set()  # resuming from a checkpoint: as good as a list once the server accepts it
            state.last_contact = time.monotonic()
            lines = Lines()
            while True:
                # Read what has arrived, not a line: a backlog comes in chunks of many events, and a
                # timer armed per line cost as much as reading it.
                try:
                    async with asyncio.timeout(self._settings.inactivity_seconds):
                        chunk = await response.content.readany()
                except TimeoutError:
                    raise SilentSocket(f"no data for {self._settings.inactivity_seconds:.0f}s") from None
                if not chunk:
                    if rest := lines.rest():
                        rv = await self._on_line(rest, rv)
                    state.connected = False
                    self._delivered()
                    return rv  # the server ended the stream (timeoutSeconds): reopen from rv
                state.last_contact = time.monotonic()
                for line in lines.feed(chunk):
                    rv = await self._on_line(line, rv)

    async def _on_line(self, line: bytes, rv: str) -> str:
        state = self.state
        if not line.strip():
            return rv
        try:
            raw = orjson.loads(line)
            event_type, obj = raw["type"], raw["object"]
            if not isinstance(obj, dict):
                raise TypeError("object is not a JSON object")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            state.counts["bad_lines"] += 1
            log.warning("%s: skipped an unreadable watch line (%s): %.200r", self.name, exc, line)
            return rv
        if event_type == "ERROR":
            code, message = obj.get("code"), obj.get("message")
            if code == 410 or obj.get("reason") in ("Expired", "Gone"):
                raise Gone(f"watch error 410: {message}")
            raise StreamError(f"watch error {code}: {message}")
        new_rv = (obj.get("metadata") or {}).get("resourceVersion")
        if event_type == "BOOKMARK":
            state.counts["bookmarks"] += 1
            self._delivered()
        elif event_type in ("ADDED", "MODIFIED", "DELETED"):
            state.counts["events"] += 1
            self._delivered()
            # Type and object were checked above; a second validation would copy the object.
            event = {"type": event_type, "object": obj, "nul_free": text_holds_no_nul(line)}
            await self._handler.on_event(trusted(WatchEvent, event))
        else:
            state.counts["bad_lines"] += 1
            log.warning("%s: unknown watch event type %r", self.name, event_type)
        if isinstance(new_rv, str) and new_rv:
            rv = new_rv
            state.resource_version = rv
        return rv

    # --- http ------------------------------------------------------------------------------

    async def _call(self, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self._list_call(**kwargs)

    async def _get_json(self, **kwargs: Any) -> tuple[dict[str, Any], bool]:
        """The list response, and whether its text passed `text_holds_no_nul`."""
        response = await self._call(_preload_content=False, **kwargs)
        async with response:
            await _raise_for_status(response)
            try:
                text = await response.read()
                body = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise StreamError(f"list response is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise StreamError("list response is not a JSON object")
        return body, text_holds_no_nul(text)

    # --- checkpoints -------------------------------------------------------------------------

    async def _checkpoint_loop(self) -> None:
        """Save the newest resourceVersion whose events are all persisted.

        A candidate (events submitted so far, resourceVersion then) is taken each tick and saved
        once the ingestor reports everything submitted before it as persisted.
        """
        if self._checkpoints is None or self._progress is None:
            return
        while True:
            await asyncio.sleep(self._settings.checkpoint_seconds)
            await self.checkpoint_now()

    async def checkpoint_now(self, *, final: bool = False) -> None:
        if self._checkpoints is None or self._progress is None:
            return
        if final:
            rv = self.state.resource_version
            if rv and self.state.synced.is_set() and self._progress.persisted_below() > self._progress.submitted():
                await self._checkpoints.save(self.name, rv)
            return
        candidate = self._candidate
        if candidate is not None and self._progress.persisted_below() > candidate[0]:
            try:
                await self._checkpoints.save(self.name, candidate[1])
            except Exception as exc:  # a checkpoint is an optimisation; the next tick retries
                log.warning("%s: could not save checkpoint: %s", self.name, exc)
        rv = self.state.resource_version
        if rv and self.state.synced.is_set():
            self._candidate = (self._progress.submitted(), rv)


class StreamError(Exception):
    """The stream broke in a way a reconnect may fix."""


class SilentSocket(StreamError):
    """The watch socket sent nothing for longer than the inactivity timeout: a dead connection."""


# Far above any object the API server stores (etcd refuses requests over ~1.5 MiB by default): a line
# this long is a server or proxy sending something else, and would otherwise grow without end.
MAX_LINE_BYTES = 64 * 1024 * 1024


class Lines:
    """A byte stream cut into lines as its chunks arrive; a line may span any number of chunks."""

    def __init__(self, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._partial = bytearray()  # the start of a line whose end has not arrived
        self._max = max_line_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines `chunk` completes, without their newlines; StreamError past the longest line."""
        newline = chunk.find(b"\n")
        if newline < 0:
            self._partial += chunk
            if len(self._partial) > self._max:
                self._partial.clear()
                raise StreamError(f"a watch line passed {self._max} bytes without ending")
            return []
        first = chunk[:newline]
        if self._partial:
            self._partial += first
            first = bytes(self._partial)
            self._partial.clear()
        lines = [first, *chunk[newline + 1 :].split(b"\n")]
        self._partial += lines.pop()
        return lines

    def rest(self) -> bytes:
        """What came after the last newline (a stream may end without one)."""
        rest = bytes(self._partial)
        self._partial.clear()
        return rest


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if response.status == 200:
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type:
            raise StreamError(f"API server answered {content_type or 'no content type'}, not JSON")
        return
    text = (await response.text(errors="replace"))[:300]
    if response.status == 410:
        raise Gone(f"HTTP 410: {text}")
    if response.status == 429:
        raise RetryLater("HTTP 429 Too Many Requests", _retry_after(response.headers.get("Retry-After")))
    if response.status in (500, 502, 503, 504):
        raise RetryLater(f"HTTP {response.status}", _retry_after(response.headers.get("Retry-After")))
    raise StreamError(f"HTTP {response.status}: {text}")


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), 300.0) if value else None
    except ValueError:
        return None


def _summary(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid")}


def _with_kind(item: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """List items of built-in types omit kind/apiVersion; restore them from the list's."""
    if "kind" in item:
        return item
    kind = str(body.get("kind", "")).removesuffix("List")
    if not kind:
        return item
    return {"kind": kind, "apiVersion": body.get("apiVersion"), **item}
