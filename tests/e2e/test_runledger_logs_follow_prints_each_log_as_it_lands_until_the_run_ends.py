"""`runledger logs RUN --follow` on a running workflow: what is archived is printed at once, each
step's log as it lands after, and the command ends by itself when the run has finished."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from runledger.store import connection as db
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.logs import api_serving_logs, archived_log
from tests.support.postgres import create_database
from tests.support.s3 import S3Objects, s3_settings

pytestmark = pytest.mark.timeout(120)
PREP = b"".join(b"prep line %04d\n" % i for i in range(100))  # 1,500 bytes: two answers at the cap below
TRAIN = b"train: done\n"


async def read_until(stream: asyncio.StreamReader, wanted: bytes, *, timeout: float) -> bytes:
    """What `stream` gave until it holds `wanted`, within `timeout` seconds."""
    seen = b""
    async with asyncio.timeout(timeout):
        while wanted not in seen:
            chunk = await stream.read(65536)
            assert chunk, f"the stream ended before {wanted!r}; it gave {seen!r}"
            seen += chunk
    return seen


async def test_follow_prints_the_archived_log_then_each_new_one_and_ends_with_the_run(
    pg_server_uri, template_database, moto_server, tmp_path
):
    dsn = await create_database(pg_server_uri, template=template_database)
    settings = s3_settings(moto_server, tmp_path)
    wf = WorkflowBuilder(name="wf").phase("Running")
    wf.node("wf-prep", "Succeeded", displayName="prep", outputs=archived_log("logs/prep/main.log"))
    wf.node("wf-train", "Running", displayName="train", at="2026-01-01T00:00:20Z")
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        async with S3Objects(moto_server.url) as objects:
            await objects.put("my-bucket", "logs/prep/main.log", PREP)
            await ingest(pool, settings, [wf.event()])
            async with api_serving_logs(dsn=dsn, s3_url=moto_server.url, log_max_bytes=1000) as url:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "runledger", "logs", "ml/wf", "--follow",
                    env={**os.environ, "RUNLEDGER_SERVER": url, "KUBECONFIG": "/nonexistent"},
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                try:
                    assert proc.stdout is not None and proc.stderr is not None
                    printed = await read_until(proc.stdout, PREP, timeout=30)
                    assert printed == b"==> prep (wf-prep) <==\n" + PREP and proc.returncode is None

                    await objects.put("my-bucket", "logs/train/main.log", TRAIN)
                    wf.node("wf-train", "Succeeded", at="2026-01-01T00:00:30Z", outputs=archived_log("logs/train/main.log"))
                    await ingest(pool, settings, [wf.phase("Succeeded", at="2026-01-01T00:00:31Z").event()])
                    async with asyncio.timeout(30):
                        rest, err = await asyncio.gather(proc.stdout.read(), proc.stderr.read())
                        await proc.wait()
                finally:
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
    finally:
        await pool.close()
    assert (proc.returncode, err) == (0, b"")
    assert rest == b"==> train (wf-train) <==\n" + TRAIN
