"""A real S3 endpoint for tests: moto's server in its own process, and a fault-injecting proxy.

moto speaks the S3 wire protocol over HTTP, so the indexer talks to it through aiobotocore exactly
as it would to MinIO. What moto cannot do on demand — answer 500 or 403 for one object, or answer
slowly — the proxy in front of it does, per key, at the HTTP level.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from runledger.core.settings import (
    ArtifactsSettings,
    DatabaseSettings,
    IngestSettings,
    Settings,
)

ACCESS_KEY = "runledger-test-key"
SECRET_KEY = "runledger-test-secret-do-not-log"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=5).close()

    def admin_client(self, service: str):  # noqa: ANN201 - botocore clients are generated types
        """A botocore client for setting the server up (IAM users, buckets) before it checks signatures."""
        import botocore.session

        return botocore.session.get_session().create_client(
            service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )  # fmt: skip

    def require_signatures(self) -> None:
        """From now on every request must be signed by an IAM identity the server knows."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})  # fmt: skip
        urllib.request.urlopen(request, timeout=5).close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


@dataclass
class _Rule:
    status: int | None = None  # answer this instead of forwarding
    code: str = ""
    times: int | None = None  # None: always
    delay: float = 0.0


class FaultyS3:
    """An HTTP proxy to moto that can fail, deny or slow down chosen keys; it counts requests per key."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)  # (method, path) -> count
        self._rules: dict[str, _Rule] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def fail(self, path: str, *, status: int = 503, times: int | None = None) -> None:
        codes = {500: "InternalError", 503: "SlowDown", 403: "AccessDenied"}
        self._rules[path] = _Rule(status=status, code=codes.get(status, "Error"), times=times)

    def deny(self, path: str) -> None:
        self.fail(path, status=403)

    def slow(self, path: str, *, seconds: float, times: int | None = None) -> None:
        self._rules[path] = _Rule(delay=seconds, times=times)

    def count(self, method: str, path: str) -> int:
        return self.requests[(method, path)]

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests[(request.method, path)] += 1
        rule = self._rules.get(path)
        if rule is not None and rule.times is not None:
            if rule.times <= 0:
                rule = None
            else:
                rule.times -= 1
        if rule is not None and rule.delay:
            await asyncio.sleep(rule.delay)
        if rule is not None and rule.status is not None:
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{rule.code}</Code>'
                f"<Message>injected</Message></Error>"
            )
            return web.Response(
                status=rule.status, text=body if request.method != "HEAD" else None, content_type="application/xml"
            )
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        headers["Host"] = self.upstream.split("://", 1)[1]
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            out = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date")
            }
            response = web.Response(
                status=upstream.status, headers=out, body=body if request.method != "HEAD" else None
            )
            if request.method == "HEAD" and "Content-Length" in upstream.headers:
                response.headers["Content-Length"] = upstream.headers["Content-Length"]
            return response


class S3Objects:
    """A client that fills buckets, talking to moto directly."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._stack: contextlib.AsyncExitStack | None = None
        self._client = None
        self._buckets: set[str] = set()

    async def __aenter__(self) -> S3Objects:
        from aiobotocore.session import get_session

        self._stack = contextlib.AsyncExitStack()
        self._client = await self._stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=self.url,
                region_name="us-east-1",
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
            )
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._stack is not None
        await self._stack.aclose()

    async def put(self, bucket: str, key: str, body: bytes, *, content_type: str = "application/octet-stream") -> str:
        """Store an object (creating its bucket) and return its ETag."""
        assert self._client is not None
        if bucket not in self._buckets:
            try:
                await self._client.create_bucket(Bucket=bucket)
            except self._client.exceptions.BucketAlreadyOwnedByYou:
                pass
            self._buckets.add(bucket)
        response = await self._client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        return response["ETag"].strip('"')


def argo_tgz(name: str, content: bytes) -> bytes:
    """A file archived the way Argo archives an output artifact: a gzipped tar with one member."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 1_700_000_000
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue())


def s3_settings(s3: FaultyS3, tmp_path: Path, **groups: dict) -> Settings:
    """Settings whose every artifact endpoint leads to the test's S3 proxy; `groups` as Settings.updated takes them."""
    endpoints = [
        "minio:9000", "minio-service.kubeflow:9000", "minio-service:9000", "seaweedfs.kubeflow:9000", "s3.amazonaws.com",
    ]  # fmt: skip
    artifacts = ArtifactsSettings(
        endpoint_map={e: s3.url for e in endpoints},
        repository={"bucket": "mlpipeline", "endpoint": "minio-service.kubeflow:9000", "insecure": True},
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        timeout_seconds=2.0,
        workers=8,
    )
    settings = Settings(
        database=DatabaseSettings(data_dir=tmp_path, pool_max=4), ingest=IngestSettings(workers=2), artifacts=artifacts
    )
    return settings.updated(**groups)
