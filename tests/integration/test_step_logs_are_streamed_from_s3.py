"""GET /api/v1/runs/{id}/steps/{step}/logs: a step's archived log, read from S3 as it is sent."""

from __future__ import annotations

import gzip
import json

import pytest
from pydantic import SecretStr

from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.logs import logging_workflow
from tests.support.s3 import argo_tgz, s3_settings

LOG = b"".join(b"line %05d: training epoch done\n" % i for i in range(2000))  # 62,000 bytes
CAP = 10_000


@pytest.fixture
async def settings_with_s3(s3, tmp_path):
    return s3_settings(s3, tmp_path, api={"log_max_bytes": CAP})


@pytest.fixture
async def api(pool, s3, s3_objects, settings_with_s3):
    await s3_objects.put("my-bucket", "logs/train/main.log", LOG)
    await s3_objects.put("my-bucket", "logs/small/main.log", b"hello\n")
    await s3_objects.put("my-bucket", "logs/packed/main.log.tgz", argo_tgz("main.log", b"packed hello\n"))
    await s3_objects.put("my-bucket", "logs/zipped/main.log.gz", gzip.compress(b"gzipped hello\n"))
    await ingest(pool, settings_with_s3, [logging_workflow("wf", {
        "wf-train": "logs/train/main.log", "wf-small": "logs/small/main.log", "wf-packed": "logs/packed/main.log.tgz",
        "wf-zipped": "logs/zipped/main.log.gz", "wf-gone": "logs/gone/main.log",
    })])  # fmt: skip
    async with serve(settings=settings_with_s3, pool=pool) as session:
        yield session


async def test_a_small_log_is_sent_whole_as_plain_text(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-small/logs") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        assert await response.read() == b"hello\n"
        assert response.headers["X-Log-Size"] == "6"
        assert response.headers["X-Log-Truncated"] == "false"


async def test_a_step_is_also_found_by_its_display_name(api):
    async with api.get("/api/v1/runs/uid-wf/steps/small/logs") as response:
        assert response.status == 200
        assert await response.read() == b"hello\n"


async def test_a_log_over_the_cap_is_cut_at_the_cap_and_says_so(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-train/logs") as response:
        assert response.status == 200
        assert await response.read() == LOG[:CAP]
        assert response.headers["X-Log-Truncated"] == "true"
        assert response.headers["X-Log-Size"] == str(len(LOG))


async def test_a_range_header_reads_a_part_of_the_log(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-train/logs", headers={"Range": "bytes=100-199"}) as response:
        assert response.status == 206
        assert await response.read() == LOG[100:200]
        assert response.headers["Content-Range"] == f"bytes 100-199/{len(LOG)}"
        assert response.headers["X-Log-Truncated"] == "false"


async def test_a_suffix_range_reads_the_tail_of_the_log(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-train/logs", headers={"Range": "bytes=-31"}) as response:
        assert response.status == 206
        assert await response.read() == LOG[-31:]


async def test_offset_and_limit_read_a_part_and_a_negative_offset_the_tail(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-train/logs?offset=31&limit=31") as response:
        assert response.status == 200
        assert await response.read() == LOG[31:62]
    async with api.get("/api/v1/runs/uid-wf/steps/wf-train/logs?offset=-62") as response:
        assert await response.read() == LOG[-62:]
        assert response.headers["X-Log-Truncated"] == "false"
    async with api.get("/api/v1/runs/uid-wf/steps/wf-train/logs?offset=61000") as response:
        assert await response.read() == LOG[61000:]


async def test_an_offset_past_the_end_reads_nothing(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-small/logs?offset=100") as response:
        assert response.status == 200
        assert await response.read() == b""


async def test_a_log_archived_as_tgz_or_gzip_is_unpacked(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-packed/logs") as response:
        assert response.status == 200
        assert await response.read() == b"packed hello\n"
    async with api.get("/api/v1/runs/uid-wf/steps/wf-zipped/logs?offset=8") as response:
        assert await response.read() == b"hello\n"


@pytest.mark.parametrize("path,says", [
    ("/api/v1/runs/uid-wf/steps/wf-nolog/logs", "no archived log"),
    ("/api/v1/runs/uid-wf/steps/wf-gone/logs", "missing in S3"),
    ("/api/v1/runs/uid-wf/steps/wf-nosuch/logs", "no step"),
    ("/api/v1/runs/uid-nosuch/steps/wf-small/logs", "no run"),
])  # fmt: skip
async def test_no_log_is_a_json_404(api, path, says):
    async with api.get(path) as response:
        body = await response.json()
        assert response.status == 404, body
        assert says in body["error"]["message"]


async def test_a_malformed_range_is_a_json_400(api):
    async with api.get("/api/v1/runs/uid-wf/steps/wf-small/logs", headers={"Range": "lines=1-2"}) as response:
        assert response.status == 400
        assert "Range" in (await response.json())["error"]["message"]


async def test_unreachable_s3_is_a_503(api, s3):
    s3.fail("/my-bucket/logs/small/main.log", status=503)
    async with api.get("/api/v1/runs/uid-wf/steps/wf-small/logs") as response:
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "unavailable"


async def test_a_run_of_an_unreadable_namespace_is_a_404(pool, s3, s3_objects, settings_with_s3):
    await s3_objects.put("my-bucket", "logs/b/main.log", b"secret\n")
    await ingest(pool, settings_with_s3, [logging_workflow("wfb", {"wfb-x": "logs/b/main.log"}, namespace="team-b")])
    grants = [{"token": "reader-a-0123456789abcdef", "user": "a", "namespaces": ["team-a"]}]
    configured = settings_with_s3.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(grants))})
    async with serve(settings=configured, pool=pool) as api:
        async with api.get("/api/v1/runs/uid-wfb/steps/wfb-x/logs",
                           headers={"Authorization": "Bearer reader-a-0123456789abcdef"}) as response:  # fmt: skip
            assert response.status == 404
            assert await response.read() != b"secret\n"
