"""A step's archived log: GET /api/v1/runs/{run_id}/steps/{step}/logs, streamed from S3.

Argo's archiveLogs stores each step's log as its output artifact `main-logs`, a plain `main.log`
object. The handler finds it in the index, lets go of its database connection, and copies a ranged
GET to the client chunk by chunk, so a log of any size costs one chunk of memory and no pool
connection while it is sent. What one request sends is capped (RUNLEDGER_API_LOG_MAX_BYTES); the
rest is read with a Range header or `offset`/`limit`, and `X-Log-Truncated` says when there is more.
A log stored archived (tgz, gzip, zip: by its key's suffix) cannot be read by range: it is fetched
whole and unpacked in memory under the same cap.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from runledger.api import auth, app_keys
from runledger.api.responses import s3_failures_answered
from runledger.api.snapshot import read
from runledger.indexer.unpacking import ARCHIVE_OVERHEAD, ArchiveError, unpack_file
from runledger.indexer.s3 import (
    Location,
    ObjectTooLarge,
    RangeNotSatisfiable,
    TransientS3Error,
)
from runledger.store import artifact_listing, run_history
from runledger.store.artifact_listing import StoredObject
from runledger.store.read_errors import BadRequest

log = logging.getLogger(__name__)

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
ARCHIVED_SUFFIXES = (".tgz", ".tar.gz", ".gz", ".tar", ".zip")
# Response headers the OpenAPI document describes.
SIZE_HEADER = "X-Log-Size"
TRUNCATED_HEADER = "X-Log-Truncated"


@dataclass(frozen=True)
class ByteRange:
    """HTTP's inclusive byte range: (first, last), (first, None) to the end, (None, n) the last n bytes."""

    first: int | None
    last: int | None

    def capped(self, cap: int) -> ByteRange:
        if self.first is None:
            return ByteRange(None, min(self.last or 0, cap))
        end = self.first + cap - 1
        return ByteRange(self.first, end if self.last is None else min(self.last, end))

    def cut_short(self, *, start: int, length: int, size: int) -> bool:
        """Whether sending `length` bytes from `start` leaves out part of this range."""
        if self.first is None:
            return start > max(size - (self.last or 0), 0)
        wanted_end = size if self.last is None else min(self.last + 1, size)
        return start + length < wanted_end


def requested_range(request: web.Request) -> tuple[ByteRange, bool]:
    """The range asked for, and whether it came as a Range header (answered 206)."""
    header = request.headers.get("Range")
    offset, limit = request.rel_url.query.get("offset"), request.rel_url.query.get("limit")
    if header is not None:
        if offset is not None or limit is not None:
            raise BadRequest("give either a Range header or offset/limit, not both")
        match = _RANGE.fullmatch(header.strip())
        if match is None or match.groups() == ("", ""):
            raise BadRequest("Range: give one byte range, e.g. bytes=0-1023, bytes=1024- or bytes=-4096 (the tail)")
        first, last = (int(g) if g else None for g in match.groups())
        if first is None:
            if last == 0:
                raise BadRequest("Range: bytes=-0 asks for nothing")
            return ByteRange(None, last), True
        if last is not None and last < first:
            raise BadRequest("Range: the last byte comes before the first")
        return ByteRange(first, last), True
    start = _integer("offset", offset, default=0)
    if limit is None:
        return (ByteRange(None, -start) if start < 0 else ByteRange(start, None)), False
    count = _integer("limit", limit, default=0)
    if count < 1:
        raise BadRequest("limit: give a positive number of bytes")
    if start < 0:
        raise BadRequest("limit goes with a non-negative offset; a negative offset reads the log's tail")
    return ByteRange(start, start + count - 1), False


def _integer(name: str, value: str | None, *, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name}: give a whole number of bytes") from None


def location_of(stored: StoredObject) -> Location:
    return Location(bucket=stored.bucket, key=stored.key, endpoint=stored.endpoint, region=stored.region,
                    insecure=stored.insecure)  # fmt: skip


async def step_log(request: web.Request) -> web.StreamResponse:
    wanted, ranged = requested_range(request)
    run_id, step = request.match_info["run_id"], request.match_info["step"]

    async def work(conn: asyncpg.Connection):
        namespace = await run_history.run_namespace(conn, run_id)
        if namespace is None or not await auth.namespace_visible(request, namespace):
            raise web.HTTPNotFound(reason="no run with this id")
        return await artifact_listing.step_log(conn, run_id, step)

    found = await read(request, work, filters=False)
    if found is None:
        raise web.HTTPNotFound(reason=f"no step {step!r} in this run (give its node id or display name)")
    if found.log_name is None:
        raise web.HTTPNotFound(reason=f"step {found.step_id} has no archived log (Argo's archiveLogs was off)")
    if found.stored is None:
        raise web.HTTPNotFound(reason=f"step {found.step_id}'s log is in {found.storage or 'unknown'} storage, not S3")
    max_bytes = request.app[app_keys.API_SETTINGS].log_max_bytes
    location = location_of(found.stored)
    cap = wanted.capped(max_bytes)
    with s3_failures_answered(what=f"step {found.step_id}'s log", uri=found.stored.uri):
        if found.stored.key.endswith(ARCHIVED_SUFFIXES):
            return await _unpacked(request, location=location, wanted=wanted, cap=cap, ranged=ranged,
                                   max_bytes=max_bytes)  # fmt: skip
        return await _streamed(request, location=location, wanted=wanted, cap=cap, ranged=ranged)


async def _streamed(
    request: web.Request, *, location: Location, wanted: ByteRange, cap: ByteRange, ranged: bool
) -> web.StreamResponse:
    store = request.app[app_keys.OBJECT_STORE].store
    try:
        async with store.open_range(location, first=cap.first, last=cap.last) as (part, chunks):
            response = _response(start=part.start, length=part.length, size=part.size, ranged=ranged,
                                 truncated=wanted.cut_short(start=part.start, length=part.length, size=part.size))  # fmt: skip
            await response.prepare(request)
            try:
                async for chunk in chunks:
                    await response.write(chunk)
            except TransientS3Error as exc:
                # The status is sent: all that is left is to end the connection short of
                # Content-Length, so the client sees a cut body rather than a whole one.
                log.warning("log of %s cut short: %s", location.key, exc)
                response.force_close()
                if request.transport is not None:
                    request.transport.close()
                return response
            await response.write_eof()
            return response
    except RangeNotSatisfiable:
        size = (await store.head(location)).size
        if ranged:
            _unsatisfiable(size)
        return _response(start=size, length=0, size=size, ranged=False, truncated=False)


async def _unpacked(
    request: web.Request, *, location: Location, wanted: ByteRange, cap: ByteRange, ranged: bool, max_bytes: int
) -> web.StreamResponse:
    store = request.app[app_keys.OBJECT_STORE].store
    try:
        packed = await store.read(location, max_bytes=max_bytes + ARCHIVE_OVERHEAD)
        text = unpack_file(packed, max_bytes=max_bytes)
    except (ObjectTooLarge, ArchiveError) as exc:
        raise BadRequest(f"the log is stored archived and cannot be unpacked within {max_bytes} bytes: {exc}") from None
    size = len(text)
    if cap.first is None:
        start = max(size - (cap.last or 0), 0)
        end = size
    else:
        if ranged and cap.first >= size and size:
            _unsatisfiable(size)
        start = min(cap.first, size)
        end = size if cap.last is None else min(cap.last + 1, size)
    body = text[start:end]
    response = _response(start=start, length=len(body), size=size, ranged=ranged,
                         truncated=wanted.cut_short(start=start, length=len(body), size=size))  # fmt: skip
    await response.prepare(request)
    await response.write(body)
    await response.write_eof()
    return response


def _response(*, start: int, length: int, size: int, ranged: bool, truncated: bool) -> web.StreamResponse:
    response = web.StreamResponse(status=206 if ranged else 200)
    response.content_type, response.charset = "text/plain", "utf-8"
    response.content_length = length
    response.headers["Accept-Ranges"] = "bytes"
    response.headers[SIZE_HEADER] = str(size)
    response.headers[TRUNCATED_HEADER] = "true" if truncated else "false"
    if ranged:
        response.headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}" if length else f"bytes */{size}"
    return response


def _unsatisfiable(size: int) -> None:
    raise web.HTTPRequestRangeNotSatisfiable(
        reason=f"the log is {size} bytes; the range starts past its end", headers={"Content-Range": f"bytes */{size}"}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/runs/{run_id}/steps/{step}/logs", step_log)
