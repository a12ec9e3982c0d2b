"""GET /api/v1/artifacts/{id}/preview: the first bytes of an artifact as text, JSON, rows or members."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from pydantic import SecretStr

from tests.support.artifacts import kfp_step_workflow
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.s3 import argo_tgz, s3_settings

CAP = 4096
OBJECTS = {
    "notes.txt": "héllo, world\n".encode() * 10,
    "long.txt": "é".encode() * 5000,  # 10,000 bytes: the cap cuts it inside a character
    "metrics.json": json.dumps({"metrics": [{"name": "accuracy", "numberValue": 0.9}]}).encode(),
    "table.csv": b"name,score\nalpha,1\n\"beta, the second\",2\n",
    "table.tsv": b"name\tscore\nalpha\t1\n",
    "big.csv": b"i,square\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000)),
    "model.bin": bytes(range(256)) * 10,
    "latin1.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
    "packed.tgz": argo_tgz("model.json", b'{"layers": [1, 2]}'),
}


def _two_member_tgz() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in (("data/a.txt", b"a" * 10), ("data/b.bin", b"\x00" * 20)):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue())


@pytest.fixture
async def settings_with_s3(s3, tmp_path):
    return s3_settings(s3, tmp_path, api={"preview_max_bytes": CAP})


@pytest.fixture
async def api(pool, s3, s3_objects, settings_with_s3):
    for name, body in {**OBJECTS, "dir.tgz": _two_member_tgz()}.items():
        await s3_objects.put("mlpipeline", f"p/{name}", body)
    outputs = {name.replace(".", "-"): f"p/{name}" for name in [*OBJECTS, "dir.tgz", "gone.txt"]}
    await ingest(pool, settings_with_s3, [kfp_step_workflow("prev", outputs)])
    async with serve(settings=settings_with_s3, pool=pool) as session:
        yield session


async def preview_of(api, key: str, status: int = 200, headers: dict | None = None) -> dict:
    async with api.get(f"/api/v1/artifacts/s3://mlpipeline/p/{key}") as response:
        artifact_id = (await response.json())["id"]
    async with api.get(f"/api/v1/artifacts/{artifact_id}/preview", headers=headers) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def test_text_is_shown_whole_when_it_fits(api):
    body = await preview_of(api, "notes.txt")
    assert (body["kind"], body["text"], body["truncated"]) == ("text", "héllo, world\n" * 10, False)
    assert body["size"] == len(OBJECTS["notes.txt"])


async def test_long_text_is_cut_at_the_cap_without_splitting_a_character(api):
    body = await preview_of(api, "long.txt")
    assert body["read_bytes"] == CAP
    assert (body["kind"], body["text"], body["truncated"]) == ("text", "é" * (CAP // 2), True)
    assert body["size"] == 10_000


async def test_json_is_indented(api):
    body = await preview_of(api, "metrics.json")
    assert body["kind"] == "json"
    assert json.loads(body["text"]) == {"metrics": [{"name": "accuracy", "numberValue": 0.9}]}
    assert "\n  " in body["text"]


async def test_csv_and_tsv_are_rows(api):
    assert (await preview_of(api, "table.csv"))["rows"] == [["name", "score"], ["alpha", "1"], ["beta, the second", "2"]]
    tsv = await preview_of(api, "table.tsv")
    assert (tsv["kind"], tsv["rows"]) == ("tsv", [["name", "score"], ["alpha", "1"]])


async def test_a_long_csv_shows_its_first_rows_only(api):
    body = await preview_of(api, "big.csv")
    assert body["kind"] == "csv" and body["truncated"] is True
    assert body["rows"][:2] == [["i", "square"], ["0", "0"]] and len(body["rows"]) == 50


@pytest.mark.parametrize("key", ["model.bin", "latin1.txt"])
async def test_binary_content_is_never_echoed(api, key):
    body = await preview_of(api, key)
    assert body["kind"] == "binary"
    assert body["text"] is None and body["rows"] is None
    assert body["size"] == len(OBJECTS[key])


async def test_argo_s_single_file_tgz_is_previewed_as_its_file(api):
    body = await preview_of(api, "packed.tgz")
    assert body["kind"] == "json"
    assert json.loads(body["text"]) == {"layers": [1, 2]}
    assert body["members"] == [{"name": "model.json", "size": 18, "type": "file"}]


async def test_a_tgz_of_several_files_lists_its_members(api):
    body = await preview_of(api, "dir.tgz")
    assert body["kind"] == "archive" and body["text"] is None
    assert body["members"] == [{"name": "data/a.txt", "size": 10, "type": "file"},
                               {"name": "data/b.bin", "size": 20, "type": "file"}]  # fmt: skip


async def test_a_missing_object_is_a_json_404(api):
    body = await preview_of(api, "gone.txt", status=404)
    assert "missing in S3" in body["error"]["message"]


async def test_an_unknown_artifact_is_a_json_404(api):
    async with api.get("/api/v1/artifacts/999999/preview") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_s3_being_away_is_a_503(api, s3):
    s3.fail("/mlpipeline/p/notes.txt", status=503)
    assert (await preview_of(api, "notes.txt", status=503))["error"]["code"] == "unavailable"


async def test_an_artifact_of_an_unreadable_namespace_is_a_404(pool, s3, s3_objects, settings_with_s3):
    await s3_objects.put("mlpipeline", "secret/notes.txt", b"secret")
    await ingest(pool, settings_with_s3, [kfp_step_workflow("hidden", {"notes": "secret/notes.txt"}, namespace="team-b")])
    grants = [{"token": "reader-a-0123456789abcdef", "user": "a", "namespaces": ["team-a"]},
              {"token": "admin-0123456789abcdef", "user": "admin", "namespaces": ["*"]}]  # fmt: skip
    configured = settings_with_s3.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(grants))})
    async with serve(settings=configured, pool=pool) as api:
        admin = {"Authorization": "Bearer admin-0123456789abcdef"}
        async with api.get("/api/v1/artifacts/s3://mlpipeline/secret/notes.txt", headers=admin) as response:
            artifact_id = (await response.json())["id"]
        reader = {"Authorization": "Bearer reader-a-0123456789abcdef"}
        async with api.get(f"/api/v1/artifacts/{artifact_id}/preview", headers=reader) as response:
            assert response.status == 404
        async with api.get(f"/api/v1/artifacts/{artifact_id}/preview", headers=admin) as response:
            assert (await response.json())["text"] == "secret"
