"""S3 access for the indexer: a lean HEAD path, aiobotocore for the rest, and errors sorted by what to do.

HEADs are the indexer's bulk work, and through a botocore client each one costs about 3 ms of CPU
in its event system, request building, signing and response parsing — more than the round trip
itself on a local network, in the one event loop every worker shares. So the lean path takes only
botocore's parts a HEAD needs: its S3 endpoint rules say where the bucket is (path-style or
virtual-host, resolved once per endpoint, bucket and region), its URL helpers quote the key and join
it as a HeadObject would, and its S3 SigV4 signer signs the request — with the derived key kept for
the day. The request goes through one shared aiohttp session that keeps connections alive, up to
``artifacts_workers`` of them. The response is four headers, read directly, with a fast path for
the one date format S3 sends.

aiobotocore stays for everything that needs botocore's knowledge: GETs of metrics and UI-metadata
files (few, and size-capped), the ranged GETs the API streams to its clients (step logs, previews:
read chunk by chunk, each chunk under the call deadline), answers the lean path does not interpret (3xx and 400: wrong-region
redirects, which botocore follows), buckets whose endpoint rules ask for more than a SigV4-signed
request (S3 Express, multi-region access points), endpoints behind an HTTP proxy from the environment, and
anonymous access (no credentials in the settings nor in botocore's default chain). Chain
credentials (environment, web identity, instance profile) are taken from the same botocore
session, refreshed by it.

Credentials are chosen per object. Argo gives each S3 repository its own Secret, so one key pair
rarely reads every bucket: ``artifacts_credentials`` maps an endpoint as workflows record it (before
the endpoint map), or "endpoint/bucket", to a key pair. The most specific entry wins; an object no
entry matches is signed as before, with the global pair or the default chain. Both paths follow
the choice: one signer per (key pair, signing region), one aiobotocore client per (endpoint,
region, key pair).

Every call is bounded twice: connect/read timeouts, and an overall deadline around the call.
Botocore's own retries are off, because the indexer retries on its own schedule (durable, in the
queue table) rather than holding a worker for seconds inside one call.

What failed is reported as one of three exception kinds: ``ObjectUnavailable`` (a permanent
answer about the object: 404 missing, 403 forbidden, other 4xx), ``TransientS3Error`` (5xx, 429,
timeouts, refused connections: try again later) — and nothing else escapes. Messages carry the
status and S3 error code only; credentials never reach a message, a log line or the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import ssl
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import botocore.exceptions
import botocore.httpsession
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.auth import EMPTY_SHA256_HASH, S3SigV4Auth
from botocore.awsrequest import AWSRequest, create_request_object, prepare_request_dict
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.endpoint_provider import EndpointProvider
from botocore.utils import percent_encode
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
)
from yarl import URL

from runledger.core.settings import ArtifactsSettings

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
# Answers whose meaning botocore knows better (a bucket in another region answers 301/307/400 with
# x-amz-bucket-region, and botocore retries there): the lean path hands these HEADs to it.
_DELEGATED_STATUSES = {301, 302, 307, 308, 400}
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}  # fmt: skip
USER_AGENT = "runledger-indexer"
# How a credentials entry names AWS S3, which workflows record as no endpoint at all.
AWS_ENDPOINT = "s3.amazonaws.com"
# botocore logs each request's headers and its canonical request at DEBUG, a session token included.
_CREDENTIAL_LOGGERS = ("botocore.endpoint", "botocore.auth")
# Bytes per read of a streamed body: big enough that the per-read deadline and the copy to the
# client cost little next to the bytes, small enough to hold one per open stream.
STREAM_CHUNK = 256 * 1024


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


class KeyPair(BaseModel):
    """One entry of ``artifacts_credentials``: what an Argo repository's two (or three) Secret keys hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    access_key_id: str = Field(min_length=1)
    secret_access_key: SecretStr = Field(min_length=1)
    session_token: SecretStr | None = None


_KEY_PAIRS = TypeAdapter(dict[str, KeyPair])


def load_credentials(artifacts: ArtifactsSettings) -> dict[str, Credentials]:
    """Per-location credentials by selector, from the setting or its file, one object per distinct key
    pair; a clear error (never a secret) when malformed. Empty when neither is set."""
    if artifacts.credentials_file is not None:
        where = f"RUNLEDGER_ARTIFACTS_CREDENTIALS_FILE ({artifacts.credentials_file})"
        try:
            text = Path(artifacts.credentials_file).read_text()
        except OSError as exc:
            raise ValueError(f"{where}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    elif artifacts.credentials is not None:
        where, text = "RUNLEDGER_ARTIFACTS_CREDENTIALS", artifacts.credentials.get_secret_value()
    else:
        return {}
    try:
        pairs = _KEY_PAIRS.validate_python(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        # The message names positions and rules only: pydantic would echo input values, i.e. secrets.
        if isinstance(exc, ValidationError):
            why = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the value'}: {e['msg']}"
                            for e in exc.errors(include_input=False))  # fmt: skip
        else:
            why = f"not JSON (line {exc.lineno}, column {exc.colno})"
        raise ValueError(f"{where}: {why}") from None
    for selector in pairs:
        # Matched as written against what workflows record, so a stray space or slash would never match.
        if not selector or selector != selector.strip() or selector.startswith("/") or selector.endswith("/"):
            raise ValueError(f'{where}: {selector!r} is neither "endpoint" nor "endpoint/bucket"')
    # botocore's Credentials, whose repr shows no secret; selectors sharing a pair share the object, and
    # with it one aiobotocore client per endpoint.
    shared = {pair: Credentials(pair.access_key_id, pair.secret_access_key.get_secret_value(),
                                pair.session_token.get_secret_value() if pair.session_token else None)
              for pair in set(pairs.values())}  # fmt: skip
    return {selector: shared[pair] for selector, pair in pairs.items()}


@dataclass(frozen=True)
class _Target:
    """Where botocore sends a bucket's requests: its endpoint for the bucket (the URL a HeadObject's
    "/key" is joined to), the Host header signed and sent, and the region signed for."""

    url: str
    host: str
    region: str


class _HeadAuth(S3SigV4Auth):
    """botocore's S3 SigV4 signer for one key pair and region, without two costs that are the same for
    every HEAD: the derived key (four HMACs) is kept for the day, and the body hash is the empty
    body's, which botocore would otherwise learn by preparing a copy of the whole request."""

    def __init__(self, *, credentials: ReadOnlyCredentials, region: str) -> None:
        super().__init__(credentials, "s3", region)
        self._day = ""
        self._key = b""

    def payload(self, request: AWSRequest) -> str:
        return EMPTY_SHA256_HASH

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        day = request.context["timestamp"][0:8]
        if day != self._day:
            key = self._sign(f"AWS4{self.credentials.secret_key}".encode(), day)
            for part in (self._region_name, self._service_name, "aws4_request"):
                key = self._sign(key, part)
            self._key, self._day = key, day
        return self._sign(self._key, string_to_sign, hex=True)


class ObjectStore:
    """HEADs on the lean path where it applies; aiobotocore clients per (endpoint, region, credentials)
    otherwise."""

    def __init__(self, *, artifacts: ArtifactsSettings) -> None:
        self._settings = artifacts
        for name in _CREDENTIAL_LOGGERS:
            # Whatever the log level: a temporary key pair's token must not reach a log line.
            logger = logging.getLogger(name)
            if logger.level < logging.INFO:
                logger.setLevel(logging.INFO)
        # Read now, so malformed credentials stop start-up with their message rather than fail objects.
        self._selected = load_credentials(artifacts)
        self._session = get_session()
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[tuple[str | None, str, Credentials | None], object] = {}
        self._opening = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None
        self._credentials_resolved = False
        self._static: ReadOnlyCredentials | None = None
        self._chain: object | None = None  # botocore (refreshable) credentials from the default chain
        self._auths: dict[tuple[ReadOnlyCredentials, str], _HeadAuth] = {}
        self._endpoints: EndpointProvider | None = None
        self._targets: dict[tuple[str | None, str, str], _Target | None] = {}
        self._timeout = aiohttp.ClientTimeout(
            total=artifacts.timeout_seconds * 2,
            sock_connect=artifacts.timeout_seconds,
            sock_read=artifacts.timeout_seconds,
        )

    def endpoint_url(self, location: Location) -> str | None:
        """Where to send requests for an object, after the configured endpoint map."""
        if not location.endpoint:
            return None
        mapped = self._settings.endpoint_map.get(location.endpoint)
        if mapped:
            return mapped
        if "://" in location.endpoint:
            return location.endpoint
        return f"{'http' if location.insecure else 'https'}://{location.endpoint}"

    def _selected_credentials(self, location: Location) -> Credentials | None:
        """The credentials configured for this object's endpoint or bucket, if any."""
        if not self._selected:
            return None
        endpoint = location.endpoint or AWS_ENDPOINT
        return self._selected.get(f"{endpoint}/{location.bucket}") or self._selected.get(endpoint)

    async def _client(self, location: Location):  # noqa: ANN202 - aiobotocore clients are generated types
        url = self.endpoint_url(location)
        region = location.region or "us-east-1"
        chosen = self._selected_credentials(location)  # None: the global pair or the chain
        key = (url, region, chosen)
        client = self._clients.get(key)
        if client is not None:
            return client
        async with self._opening:
            if key not in self._clients:
                s = self._settings
                config = AioConfig(
                    connect_timeout=s.timeout_seconds,
                    read_timeout=s.timeout_seconds,
                    retries={"total_max_attempts": 1},
                    max_pool_connections=s.workers,
                    # MinIO and most S3-compatible servers only do path-style; AWS picks for itself.
                    s3={"addressing_style": "path" if url else "auto"},
                )
                if chosen is not None:
                    access, secret, token = chosen.access_key, chosen.secret_key, chosen.token
                else:
                    access = s.access_key_id.get_secret_value() if s.access_key_id else None
                    secret = (s.secret_access_key.get_secret_value()
                              if s.secret_access_key else None)  # fmt: skip
                    token = None
                self._clients[key] = await self._stack.enter_async_context(
                    self._session.create_client(
                        "s3",
                        endpoint_url=url,
                        region_name=region,
                        aws_access_key_id=access,
                        aws_secret_access_key=secret,
                        aws_session_token=token,
                        config=config,
                    )
                )
            return self._clients[key]

    # --- HEAD -----------------------------------------------------------------------------------

    async def head(self, location: Location) -> ObjectHead:
        region = location.region or "us-east-1"
        target = self._target(location, region)
        credentials = None
        if target is not None:
            selected = self._selected_credentials(location)
            credentials = selected.get_frozen_credentials() if selected else await self._current_credentials()
        if target is None or credentials is None:
            return await self._head_botocore(location)
        request = self._signed_head(target=target, credentials=credentials, key=location.key)
        try:
            async with self._http_session().head(
                URL(request.url, encoded=True), headers=dict(request.headers.items()), allow_redirects=False
            ) as response:
                status, h = response.status, response.headers
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            raise TransientS3Error("timed out") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientS3Error(type(exc).__name__) from exc
        if 200 <= status < 300:
            return _head_of(h)
        if status in _DELEGATED_STATUSES:
            return await self._head_botocore(location)
        raise _classify_status(status, str(status))

    def _signed_head(self, *, target: _Target, credentials: ReadOnlyCredentials, key: str) -> AWSRequest:
        """The HEAD of `key` as a botocore client builds and signs a HeadObject: the key quoted into
        "/{Key+}", joined to the bucket's endpoint, signed by botocore's S3 signer."""
        auth = self._auths.get((credentials, target.region))
        if auth is None:
            if len(self._auths) > 64:
                self._auths.clear()  # refreshed chain credentials leave old pairs behind
            auth = self._auths[(credentials, target.region)] = _HeadAuth(credentials=credentials, region=target.region)
        request_dict = {"method": "HEAD", "url_path": "/" + percent_encode(key, safe="/~"), "query_string": "",
                        "headers": {"Host": target.host}, "body": b""}  # fmt: skip
        prepare_request_dict(request_dict, target.url, user_agent=USER_AGENT)
        request = create_request_object(request_dict)
        auth.add_auth(request)
        return request

    async def _head_botocore(self, location: Location) -> ObjectHead:
        client = await self._client(location)
        response = await self._call(client.head_object(Bucket=location.bucket, Key=location.key))
        etag = response.get("ETag")
        return ObjectHead(
            size=int(response.get("ContentLength") or 0),
            etag=etag.strip('"') if isinstance(etag, str) else None,
            content_type=response.get("ContentType"),
            last_modified=response.get("LastModified"),
        )

    def _target(self, location: Location, region: str) -> _Target | None:
        url = self.endpoint_url(location)
        key = (url, location.bucket, region)
        try:
            return self._targets[key]
        except KeyError:
            pass
        target = self._targets[key] = self._resolve_target(url=url, bucket=location.bucket, region=region)
        return target

    def _resolve_target(self, *, url: str | None, bucket: str, region: str) -> _Target | None:
        """The bucket's endpoint by botocore's S3 endpoint rules, with the parameters our clients give
        them; None where a signed HEAD to it is not enough (botocore then does the HEAD)."""
        if self._endpoints is None:
            loader = self._session.get_component("data_loader")
            self._endpoints = EndpointProvider(loader.load_service_model("s3", "endpoint-rule-set-1"),
                                               loader.load_data("partitions"))  # fmt: skip
        parameters = {"Bucket": bucket, "Region": region, "ForcePathStyle": url is not None,  # as addressing_style
                      "UseGlobalEndpoint": region == "us-east-1"}  # fmt: skip
        if url is not None:
            parameters["Endpoint"] = url
        try:
            endpoint = self._endpoints.resolve_endpoint(**parameters)
        except botocore.exceptions.BotoCoreError:
            return None  # botocore, on its path, reports what is wrong with the bucket or endpoint
        schemes = endpoint.properties.get("authSchemes") or [{"name": "sigv4"}]
        # S3 Express and multi-region access points sign otherwise; proxies come from the environment.
        if schemes[0].get("name") != "sigv4" or endpoint.headers or _proxied(endpoint.url):
            return None
        parsed = URL(endpoint.url)
        return _Target(url=endpoint.url, host=parsed.host_port_subcomponent or "",
                       region=schemes[0].get("signingRegion", region))  # fmt: skip

    async def _current_credentials(self) -> ReadOnlyCredentials | None:
        if not self._credentials_resolved:
            await self._resolve_credentials()
        if self._static is not None:
            return self._static
        if self._chain is None:
            return None
        # Chain credentials may be temporary; botocore refreshes them ahead of expiry.
        frozen = await self._chain.get_frozen_credentials()  # type: ignore[attr-defined]
        if not frozen.access_key or not frozen.secret_key:
            return None
        return frozen

    async def _resolve_credentials(self) -> None:
        async with self._opening:
            if self._credentials_resolved:
                return
            access, secret = self._settings.access_key_id, self._settings.secret_access_key
            if access and secret:
                self._static = ReadOnlyCredentials(access.get_secret_value(), secret.get_secret_value(), None)
            else:
                try:
                    self._chain = await self._session.get_credentials()
                except botocore.exceptions.BotoCoreError:
                    self._chain = None  # botocore, on its path, reports what is wrong with them
            self._credentials_resolved = True

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._settings.workers, ssl=self._ssl_context()),
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._http

    def _ssl_context(self) -> ssl.SSLContext:
        # The CA bundle botocore would use: AWS_CA_BUNDLE / ca_bundle in the AWS config, else its default.
        bundle = self._session.get_config_variable("ca_bundle") or botocore.httpsession.where()
        return ssl.create_default_context(cafile=bundle)

    # --- GET --------------------------------------------------------------------------------------

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

    @contextlib.asynccontextmanager
    async def open_range(
        self, location: Location, *, first: int | None, last: int | None, chunk_bytes: int = STREAM_CHUNK
    ) -> AsyncIterator[tuple[ObjectSlice, AsyncIterator[bytes]]]:
        """A ranged GET, read as it is consumed: what S3 sends, and its bytes in chunks.

        The range is HTTP's, inclusive: (first, last), (first, None) to the end, (None, n) the last n
        bytes. Each chunk is awaited under the call deadline, so a stalled body is a TransientS3Error
        rather than a stuck reader. A range starting past the end raises RangeNotSatisfiable.
        """
        if first is None and last is None:
            raise ValueError("give first, last or both")
        spec = f"bytes=-{last}" if first is None else f"bytes={first}-{'' if last is None else last}"
        client = await self._client(location)
        response = await self._call(client.get_object(Bucket=location.bucket, Key=location.key, Range=spec))
        async with response["Body"] as body:
            part = _slice_of(response, first=first, last=last)
            left = part.length

            async def chunks() -> AsyncIterator[bytes]:
                nonlocal left
                # A server that ignored the Range sends the whole object: stop at what was asked for.
                while left > 0:
                    data = await self._call(body.read(min(chunk_bytes, left)))
                    if not data:
                        raise TransientS3Error(f"the body ended {left} byte(s) early")
                    left -= len(data)
                    yield data

            yield part, chunks()

    async def read_range(self, location: Location, *, first: int, last: int) -> tuple[ObjectSlice, bytes]:
        """Bytes first..last (inclusive) of an object, or fewer at its end; empty past it."""
        try:
            async with self.open_range(location, first=first, last=last) as (part, chunks):
                return part, b"".join([chunk async for chunk in chunks])
        except RangeNotSatisfiable:
            head = await self.head(location)
            return ObjectSlice(start=head.size, length=0, size=head.size, content_type=head.content_type), b""

    async def _call(self, awaitable):  # noqa: ANN001, ANN202
        try:
            async with asyncio.timeout(self._settings.timeout_seconds * 2):
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
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self._stack.aclose()
        self._clients.clear()


class ObjectTooLarge(ValueError):
    pass


class RangeNotSatisfiable(ObjectUnavailable):
    """The range asked for starts past the object's end (HTTP 416)."""

    def __init__(self, reason: str) -> None:
        super().__init__("failed", reason)


@dataclass(frozen=True)
class ObjectSlice:
    """What a ranged GET sends: `length` bytes from `start`, of an object of `size` bytes."""

    start: int
    length: int
    size: int
    content_type: str | None


def _slice_of(response: dict, *, first: int | None, last: int | None) -> ObjectSlice:
    length = int(response.get("ContentLength") or 0)
    # "bytes 100-199/62000"; absent when the server sent the whole object (200, Range ignored).
    spec, _, total = str(response.get("ContentRange") or "").rpartition("/")
    if spec.startswith("bytes ") and total.isdigit():
        start = int(spec[6:].partition("-")[0])
        return ObjectSlice(start=start, length=length, size=int(total), content_type=response.get("ContentType"))
    size = length
    start = max(size - last, 0) if first is None and last is not None else min(first or 0, size)
    end = size if first is None or last is None else min(last + 1, size)
    return ObjectSlice(start=start, length=max(end - start, 0), size=size, content_type=response.get("ContentType"))


def _classify(exc: botocore.exceptions.ClientError) -> Exception:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return _classify_status(status, str(error.get("Code", "")))


def _classify_status(status: int, code: str) -> Exception:
    what = f"HTTP {status}" + (f" {code}" if code and code != str(status) else "")
    if status == 416 or code == "InvalidRange":
        return RangeNotSatisfiable(f"{what}: the range starts past the end of the object")
    if status == 404 or code in _MISSING_CODES:
        return ObjectUnavailable("missing", f"{what}: no such object")
    if status == 403 or code in _FORBIDDEN_CODES:
        return ObjectUnavailable("forbidden", f"{what}: access denied")
    if status >= 500 or status in (408, 429) or code in ("SlowDown", "RequestTimeout", "InternalError"):
        return TransientS3Error(what)
    return ObjectUnavailable("failed", f"{what}: request rejected")


def _head_of(headers) -> ObjectHead:  # noqa: ANN001 - a multidict of the response's headers
    etag = headers.get("ETag")
    try:
        size = int(headers.get("Content-Length") or 0)
    except ValueError:
        raise TransientS3Error("malformed Content-Length") from None
    return ObjectHead(
        size=size,
        etag=etag.strip('"') if etag is not None else None,
        content_type=headers.get("Content-Type"),
        last_modified=parse_http_date(headers.get("Last-Modified")),
    )


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 7231 section 7.1.1.1) as an aware UTC datetime; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    # IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": what S3 and nearly every server send, by position.
    if len(value) == 29 and value[3] == "," and value.endswith(" GMT"):
        try:
            return datetime(int(value[12:16]), _MONTHS[value[8:11]], int(value[5:7]), int(value[17:19]),
                            int(value[20:22]), int(value[23:25]), tzinfo=timezone.utc)  # fmt: skip
        except (KeyError, ValueError):
            pass
    # The obsolete RFC 850 and asctime forms recipients must still accept; asctime carries no zone
    # and means GMT.
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _proxied(url: str) -> bool:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host.rsplit(":", 1)[0])
