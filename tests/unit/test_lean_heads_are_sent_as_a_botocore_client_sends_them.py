"""The lean HEAD path sends the URL and signed headers a botocore client sends for the same object.

A real botocore client is the reference: each case builds its HeadObject request (captured just
before it would go on the wire) and the request the lean path would send for the same object and
credentials, and compares URL and signed headers byte for byte. Both read the clock: the lean request
is built between two botocore captures, and compared when both captures carry the same second.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from pydantic import SecretStr

from runledger.core.settings import ArtifactsSettings, Settings
from runledger.indexer.s3 import Location, ObjectStore

_SESSION = botocore.session.get_session()
ACCESS, SECRET = "AKIAEXAMPLE", "secret/with+chars"
SIGNED = ("X-Amz-Date", "X-Amz-Content-SHA256", "X-Amz-Security-Token", "Authorization")
KEYS = [
    "runs/r1/model.tgz",
    "with space/and+plus.bin",
    "ünïcødé/файл/模型.bin",
    "emoji/🙂.json",
    "reserved/!'()*&$@=;:,?#[]~.txt",
    "percent/%2F%20literal",
    "dots/./and/../double//slash",
    "/leading/slash",
    "tab\tand\nnewline",
]


class _Captured(Exception):
    def __init__(self, request) -> None:
        super().__init__("captured")
        self.request = request


def botocore_client(*, endpoint: str | None, region: str, token: str | None):
    # Configured as ObjectStore configures its own clients: path-style for endpoints, AWS picks for itself.
    client = _SESSION.create_client(
        "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
        aws_session_token=token, config=Config(s3={"addressing_style": "path" if endpoint else "auto"}),
    )  # fmt: skip

    def capture(request, **_) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send.s3.HeadObject", capture)
    return client


def sent_by_botocore(client, *, bucket: str, key: str) -> tuple[str, dict[str, str]]:
    with pytest.raises(_Captured) as captured:
        client.head_object(Bucket=bucket, Key=key)
    request = captured.value.request
    return request.url, {name: _text(request.headers[name]) for name in SIGNED if name in request.headers}


def sent_by_lean_path(store: ObjectStore, *, location: Location, token: str | None) -> tuple[str, dict[str, str]]:
    target = store._target(location, location.region or "us-east-1")
    assert target is not None, "the lean path leaves this object to botocore"
    credentials = ReadOnlyCredentials(ACCESS, SECRET, token)
    request = store._signed_head(target=target, credentials=credentials, key=location.key)
    headers = dict(request.headers.items())
    return request.url, {name: headers[name] for name in SIGNED if name in headers}


def assert_sent_alike(*, location: Location, endpoint: str | None, token: str | None = None) -> None:
    store = ObjectStore(artifacts=Settings(artifacts=ArtifactsSettings(endpoint_map={"s3.test": endpoint} if endpoint else {})).artifacts)
    client = botocore_client(endpoint=endpoint, region=location.region or "us-east-1", token=token)
    for _ in range(5):
        before = sent_by_botocore(client, bucket=location.bucket, key=location.key)
        ours = sent_by_lean_path(store, location=location, token=token)
        after = sent_by_botocore(client, bucket=location.bucket, key=location.key)
        if before == after:  # the same second throughout
            assert ours == before
            return
    pytest.fail("the clock's second changed in every attempt")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:9000", "https://minio.example.com", "http://minio:80", "http://MinIO.Example:9000/prefix/"],
)
def test_path_style_heads_have_botocores_url_and_signature(key, endpoint):
    assert_sent_alike(location=Location(bucket="mlpipeline", key=key, endpoint="s3.test"), endpoint=endpoint)


@pytest.mark.parametrize(
    ("bucket", "region"),
    [("mlpipeline", "us-east-1"), ("mlpipeline", "eu-west-1"), ("my.dotted.bucket", "eu-west-1"),
     ("mlpipeline", "cn-north-1"), ("mlpipeline", "us-gov-west-1")],
)  # fmt: skip
@pytest.mark.parametrize("key", ["runs/r 1/model.tgz", "ünïcødé/+%.bin", "dots/../x"])
def test_aws_heads_are_addressed_and_signed_like_botocores_auto_style(bucket, region, key):
    assert_sent_alike(location=Location(bucket=bucket, key=key, region=region), endpoint=None)


def test_temporary_credentials_sign_the_security_token_as_botocore_does():
    token = "FwoGZXIvYXdzEJr//////////wEaDH/token+with/slashes=="
    location = Location(bucket="mlpipeline", key="k.bin", endpoint="s3.test", region="eu-central-1")
    assert_sent_alike(location=location, endpoint="http://127.0.0.1:9000", token=token)


def test_buckets_that_botocore_signs_otherwise_are_left_to_botocore():
    store = ObjectStore(artifacts=Settings().artifacts)
    assert store._target(Location(bucket="models--use1-az4--x-s3", key="k"), "us-east-1") is None  # S3 Express


def test_the_configured_secret_never_shows_in_a_repr():
    settings = Settings(artifacts=ArtifactsSettings(credentials=SecretStr(f'{{"s3.test": {{"access_key_id": "{ACCESS}", '
                                                        f'"secret_access_key": "{SECRET}"}}}}')))  # fmt: skip
    store = ObjectStore(artifacts=settings.artifacts)
    assert SECRET not in repr(store._selected_credentials(Location(bucket="b", key="k", endpoint="s3.test")))
