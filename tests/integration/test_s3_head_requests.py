"""HEADs on the lean path against a real S3 server: signatures moto verifies, keys S3 would find.

Most tests use a moto server of their own with request authentication switched on (moto checks
nothing by default): it knows one IAM user's key and rejects every request whose SigV4 signature it
cannot reproduce with that user's secret. So a found object proves the URL encoding and the
signature; a wrong secret is answered 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from runledger.core.settings import ArtifactsSettings, DatabaseSettings, Settings
from runledger.indexer.s3 import (
    Location,
    ObjectStore,
    ObjectUnavailable,
    TransientS3Error,
)
from tests.support.s3 import FaultyS3, MotoServer, S3Objects, free_port, s3_settings

BUCKET = "mlpipeline"
KEYS = [
    "runs/r1/model.tgz",
    "with space/and+plus.bin",
    "ünïcødé/файл/模型.bin",
    "emoji/🙂.json",
    "reserved/!'()*&$@=;:,?#[]~.txt",
    "percent/%2F%20literal",
    "dots/./and/../double//slash",
]
ENDPOINT = "minio-service.kubeflow:9000"


@dataclass(frozen=True)
class AuthenticatingS3:
    url: str
    access_key: str
    secret_key: str
    etags: dict[str, str]
    sizes: dict[str, int]


@pytest.fixture(scope="module")
def authenticating_s3() -> Iterator[AuthenticatingS3]:
    server = MotoServer()
    server.start()
    try:
        iam = server.admin_client("iam")
        iam.create_user(UserName="indexer")
        iam.put_user_policy(UserName="indexer", PolicyName="read", PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'))
        key = iam.create_access_key(UserName="indexer")["AccessKey"]
        s3 = server.admin_client("s3")
        s3.create_bucket(Bucket=BUCKET)
        etags, sizes = {}, {}
        for i, k in enumerate(KEYS):
            body = f"object {k}".encode() * (i + 1)
            etags[k] = s3.put_object(Bucket=BUCKET, Key=k, Body=body, ContentType="application/x-tar")["ETag"].strip('"')
            sizes[k] = len(body)
        server.require_signatures()
        yield AuthenticatingS3(server.url, key["AccessKeyId"], key["SecretAccessKey"], etags, sizes)
    finally:
        server.stop()


def settings_for(url: str, tmp_path: Path, *, access: str | None, secret: str | None) -> Settings:
    return Settings(
        database=DatabaseSettings(data_dir=tmp_path),
        artifacts=ArtifactsSettings(
            endpoint_map={ENDPOINT: url},
            access_key_id=SecretStr(access) if access else None,
            secret_access_key=SecretStr(secret) if secret else None,
            timeout_seconds=2.0,
        ),
    )


def location(key: str, *, endpoint: str = ENDPOINT) -> Location:
    return Location(bucket=BUCKET, key=key, endpoint=endpoint, insecure=True)


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """botocore's default chain finds nothing: no environment keys, files or instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def test_keys_with_spaces_unicode_and_reserved_characters_are_signed_and_found(
    authenticating_s3, tmp_path, lean_only
):
    s = authenticating_s3
    store = ObjectStore(artifacts=settings_for(s.url, tmp_path, access=s.access_key, secret=s.secret_key).artifacts)
    try:
        for key in KEYS:
            head = await store.head(location(key))
            assert (head.etag, head.size) == (s.etags[key], s.sizes[key]), key
    finally:
        await store.close()


async def test_size_etag_content_type_and_last_modified_are_what_botocore_reads(authenticating_s3, tmp_path):
    s = authenticating_s3
    store = ObjectStore(artifacts=settings_for(s.url, tmp_path, access=s.access_key, secret=s.secret_key).artifacts)
    try:
        for key in KEYS:
            lean, reference = await store.head(location(key)), await store._head_botocore(location(key))
            assert lean == reference, key
            assert lean.content_type == "application/x-tar"
            assert lean.last_modified is not None and lean.last_modified.utcoffset().total_seconds() == 0
    finally:
        await store.close()


async def test_a_wrong_secret_is_rejected_by_s3_and_reported_as_forbidden(authenticating_s3, tmp_path, lean_only):
    s = authenticating_s3
    store = ObjectStore(artifacts=settings_for(s.url, tmp_path, access=s.access_key, secret="not-" + s.secret_key).artifacts)
    try:
        with pytest.raises(ObjectUnavailable) as raised:
            await store.head(location(KEYS[1]))
    finally:
        await store.close()
    assert raised.value.state == "forbidden" and "403" in raised.value.reason
    assert s.secret_key not in raised.value.reason


async def test_an_absent_key_is_missing(authenticating_s3, tmp_path, lean_only):
    s = authenticating_s3
    store = ObjectStore(artifacts=settings_for(s.url, tmp_path, access=s.access_key, secret=s.secret_key).artifacts)
    try:
        with pytest.raises(ObjectUnavailable) as raised:
            await store.head(location("runs/never written.bin"))
    finally:
        await store.close()
    assert (raised.value.state, raised.value.reason) == ("missing", "HTTP 404: no such object")


async def test_credentials_from_botocores_default_chain_sign_the_lean_path(
    authenticating_s3, tmp_path, monkeypatch, no_ambient_credentials, lean_only
):
    s = authenticating_s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s.secret_key)
    store = ObjectStore(artifacts=settings_for(s.url, tmp_path, access=None, secret=None).artifacts)
    try:
        assert (await store.head(location(KEYS[2]))).etag == s.etags[KEYS[2]]
    finally:
        await store.close()


async def test_without_any_credentials_the_head_goes_through_botocore_and_is_forbidden(
    authenticating_s3, tmp_path, no_ambient_credentials
):
    store = ObjectStore(artifacts=settings_for(authenticating_s3.url, tmp_path, access=None, secret=None).artifacts)
    try:
        with pytest.raises(ObjectUnavailable) as raised:
            await store.head(location(KEYS[0]))
    finally:
        await store.close()
    assert raised.value.state == "forbidden"


# --- failures, through the fault-injecting proxy to the shared (unauthenticated) moto -------------


@pytest.mark.parametrize(("status", "kind"), [(500, TransientS3Error), (503, TransientS3Error),
                                              (429, TransientS3Error), (403, ObjectUnavailable),
                                              (409, ObjectUnavailable)])  # fmt: skip
async def test_error_statuses_are_sorted_into_transient_and_permanent(s3: FaultyS3, s3_objects: S3Objects, tmp_path,
                                                                      lean_only, status, kind):  # fmt: skip
    await s3_objects.put(BUCKET, "model.bin", b"x")
    s3.fail(f"/{BUCKET}/model.bin", status=status)
    store = ObjectStore(artifacts=s3_settings(s3, tmp_path).artifacts)
    try:
        with pytest.raises(kind, match=str(status)):
            await store.head(location("model.bin"))
    finally:
        await store.close()


async def test_a_slow_answer_times_out_as_transient(s3: FaultyS3, s3_objects: S3Objects, tmp_path, lean_only):
    await s3_objects.put(BUCKET, "slow.bin", b"x")
    s3.slow(f"/{BUCKET}/slow.bin", seconds=2.0, times=1)
    store = ObjectStore(artifacts=s3_settings(s3, tmp_path, artifacts={"timeout_seconds": 0.3}).artifacts)
    try:
        with pytest.raises(TransientS3Error, match="timed out"):
            await store.head(location("slow.bin"))
        assert (await store.head(location("slow.bin"))).size == 1, "the next HEAD, on a fresh connection, succeeds"
    finally:
        await store.close()


async def test_a_refused_connection_is_transient(tmp_path, lean_only):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = ObjectStore(artifacts=settings_for(url, tmp_path, access="k", secret="s").artifacts)
    try:
        with pytest.raises(TransientS3Error):
            await store.head(location("model.bin"))
    finally:
        await store.close()


async def test_a_redirect_is_left_to_botocore(s3: FaultyS3, s3_objects: S3Objects, tmp_path):
    await s3_objects.put(BUCKET, "moved.bin", b"x")
    s3.fail(f"/{BUCKET}/moved.bin", status=301, times=1)  # a bucket in another region answers so
    store = ObjectStore(artifacts=s3_settings(s3, tmp_path).artifacts)
    try:
        assert (await store.head(location("moved.bin"))).size == 1
    finally:
        await store.close()
    assert s3.count("HEAD", f"/{BUCKET}/moved.bin") == 2
