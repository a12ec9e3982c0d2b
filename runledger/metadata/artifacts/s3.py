"""S3 access for the indexer: one aiobotocore client per endpoint, and errors sorted by what to do.

Every call is bounded twice: botocore's connect/read timeouts, and an overall deadline around the
call. Botocore's own retries are off, because the indexer retries on its own schedule (durable, in
the queue table) rather than holding a worker for seconds inside one call.

What failed is reported as one of three exception kinds: ``ObjectUnavailable`` (a permanent
answer about the object: 404 missing, 403 forbidden, other 4xx), ``TransientS3Error`` (5xx, 429,
timeouts, refused connections: try again later) — and nothing else escapes. Messages carry the
status and S3 error code only; credentials never reach a message, a log line or the API.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

import botocore.exceptions
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from runledger.settings import Settings

_TRANSIENT_BOTOCORE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.ResponseStreamingError,
)
_MISSING_CODES = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_FORBIDDEN_CODES = {"403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


@dataclass(frozen=True)
class Location:
    bucket: str
    key: str
    endpoint: str | None = None
    region: str | None = None
    insecure: bool | None = None


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str | None
    content_type: str | None
    last_modified: datetime | None


class ObjectUnavailable(Exception):
    """S3 answered for good: the object is missing, forbidden, or the request can never succeed."""

    def __init__(self, state: str, reason: str) -> None:
        super().__init__(reason)
        self.state = state  # "missing" | "forbidden" | "failed"
        self.reason = reason


class TransientS3Error(Exception):
    """Worth retrying later: 5xx, throttling, timeouts, connection failures."""


class ObjectStore:
    """Clients per (endpoint, region), opened on first use and closed together."""

    def __init__(self, *, settings: Settings) -> None:
        self._settings = settings
        self._session = get_session()
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[tuple[str | None, str], object] = {}
        self._opening = asyncio.Lock()

    def endpoint_url(self, location: Location) -> str | None:
        """Where to send requests for an object, after the configured endpoint map."""
        if not location.endpoint:
            return None
        mapped = self._settings.artifacts_endpoint_map.get(location.endpoint)
        if mapped:
            return mapped
        if "://" in location.endpoint:
            return location.endpoint
        return f"{'http' if location.insecure else 'https'}://{location.endpoint}"

    async def _client(self, location: Location):  # noqa: ANN202 - aiobotocore clients are generated types
        url = self.endpoint_url(location)
        region = location.region or "us-east-1"
        key = (url, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        async with self._opening:
            if key not in self._clients:
                s = self._settings
                config = AioConfig(
                    connect_timeout=s.artifacts_timeout_seconds,
                    read_timeout=s.artifacts_timeout_seconds,
                    retries={"total_max_attempts": 1},
                    max_pool_connections=s.artifacts_workers,
                    # MinIO and most S3-compatible servers only do path-style; AWS picks for itself.
                    s3={"addressing_style": "path" if url else "auto"},
                )
                secret = s.artifacts_secret_access_key
                access = s.artifacts_access_key_id
                self._clients[key] = await self._stack.enter_async_context(
                    self._session.create_client(
                        "s3",
                        endpoint_url=url,
                        region_name=region,
                        aws_access_key_id=access.get_secret_value() if access else None,
                        aws_secret_access_key=secret.get_secret_value() if secret else None,
                        config=config,
                    )
                )
            return self._clients[key]

    async def head(self, location: Location) -> ObjectHead:
        client = await self._client(location)
        response = await self._call(client.head_object(Bucket=location.bucket, Key=location.key))
        etag = response.get("ETag")
        return ObjectHead(
            size=int(response.get("ContentLength") or 0),
            etag=etag.strip('"') if isinstance(etag, str) else None,
            content_type=response.get("ContentType"),
            last_modified=response.get("LastModified"),
        )

    async def read(self, location: Location, *, max_bytes: int) -> bytes:
        """The object's bytes; more than `max_bytes` is an ObjectTooLarge, never read into memory."""
        client = await self._client(location)
        # The Range caps what the server sends even if the object grew since its HEAD.
        response = await self._call(
            client.get_object(Bucket=location.bucket, Key=location.key, Range=f"bytes=0-{max_bytes}")
        )
        async with response["Body"] as body:
            data = await self._call(body.read(max_bytes + 1))
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"object is larger than the {max_bytes}-byte cap")
        return data

    async def _call(self, awaitable):  # noqa: ANN001, ANN202
        try:
            async with asyncio.timeout(self._settings.artifacts_timeout_seconds * 2):
                return await awaitable
        except TimeoutError as exc:
            raise TransientS3Error("timed out") from exc
        except botocore.exceptions.ClientError as exc:
            raise _classify(exc) from exc
        except _TRANSIENT_BOTOCORE as exc:
            raise TransientS3Error(type(exc).__name__) from exc
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise TransientS3Error(type(exc).__name__) from exc
        except botocore.exceptions.NoCredentialsError as exc:
            raise ObjectUnavailable("forbidden", "no S3 credentials configured") from exc

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()


class ObjectTooLarge(ValueError):
    pass


def _classify(exc: botocore.exceptions.ClientError) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    what = f"HTTP {status}" + (f" {code}" if code and code != str(status) else "")
    if status == 404 or code in _MISSING_CODES:
        return ObjectUnavailable("missing", f"{what}: no such object")
    if status == 403 or code in _FORBIDDEN_CODES:
        return ObjectUnavailable("forbidden", f"{what}: access denied")
    if status >= 500 or status in (408, 429) or code in ("SlowDown", "RequestTimeout", "InternalError"):
        return TransientS3Error(what)
    return ObjectUnavailable("failed", f"{what}: request rejected")
