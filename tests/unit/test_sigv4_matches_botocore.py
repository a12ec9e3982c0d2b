"""The lean HEAD signer sends the URL and signature botocore would send for the same object.

botocore's client is the reference: each case builds a real botocore HeadObject request (captured
just before it would go on the wire), then signs the same object with ``signing`` at the same
instant and compares URL, Host and Authorization byte for byte.
"""

from __future__ import annotations

from datetime import datetime, timezone

import botocore.session
import pytest
from botocore.config import Config

from runledger.indexer.s3 import parse_http_date
from runledger.indexer.signing import (
    EMPTY_SHA256,
    Credentials,
    Signer,
    aws_target,
    path_style,
    quote_key,
)

_SESSION = botocore.session.get_session()
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
    def __init__(self, request) -> None:  # noqa: ANN001 - botocore's AWSPreparedRequest
        super().__init__("captured")
        self.request = request


def botocore_head(*, key: str, bucket: str, endpoint: str | None, region: str, token: str | None = None):  # noqa: ANN201
    client = _SESSION.create_client(
        "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret/with+chars", aws_session_token=token,
        # botocore skips hashing the (empty) body over https unless asked; the lean path always hashes it.
        config=Config(s3={"addressing_style": "path" if endpoint else "auto", "payload_signing_enabled": True}),
    )  # fmt: skip

    def capture(request, **_) -> None:  # noqa: ANN001
        raise _Captured(request)

    client.meta.events.register("before-send.s3.HeadObject", capture)
    with pytest.raises(_Captured) as captured:
        client.head_object(Bucket=bucket, Key=key)
    return captured.value.request


def signed_like(request, *, target, key: str, region: str, token: str | None = None) -> dict[str, str]:  # noqa: ANN001
    now = datetime.strptime(request.headers["X-Amz-Date"].decode(), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    signer = Signer(Credentials("AKIAEXAMPLE", "secret/with+chars", token))
    return signer.headers("HEAD", target, quote_key(key), region, now=now)


def header(request, name: str) -> str:  # noqa: ANN001
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://minio.example.com", "http://minio:80"])
def test_path_style_requests_have_botocores_url_and_signature(key, endpoint):
    request = botocore_head(key=key, bucket="mlpipeline", endpoint=endpoint, region="us-east-1")
    target = path_style(endpoint, "mlpipeline")
    ours = signed_like(request, target=target, key=key, region="us-east-1")
    assert f"{target.base}/{quote_key(key)}" == request.url
    assert ours["x-amz-content-sha256"] == header(request, "X-Amz-Content-SHA256") == EMPTY_SHA256
    assert ours["Authorization"] == header(request, "Authorization")


@pytest.mark.parametrize(
    ("bucket", "region", "url"),
    [
        ("mlpipeline", "us-east-1", "https://mlpipeline.s3.amazonaws.com/"),
        ("mlpipeline", "eu-west-1", "https://mlpipeline.s3.eu-west-1.amazonaws.com/"),
        ("my.dotted.bucket", "eu-west-1", "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/"),
    ],
)
def test_aws_requests_are_addressed_like_botocores_auto_style(bucket, region, url):
    key = "runs/r 1/model.tgz"
    request = botocore_head(key=key, bucket=bucket, endpoint=None, region=region)
    target = aws_target(bucket, region)
    assert target is not None
    assert f"{target.base}/{quote_key(key)}" == request.url == url + quote_key(key)
    assert signed_like(request, target=target, key=key, region=region)["Authorization"] == header(request, "Authorization")


def test_temporary_credentials_sign_the_security_token_as_botocore_does():
    token = "FwoGZXIvYXdzEJr//////////wEaDH/token+with/slashes=="
    request = botocore_head(key="k.bin", bucket="mlpipeline", endpoint="http://127.0.0.1:9000", region="eu-central-1",
                            token=token)  # fmt: skip
    ours = signed_like(request, target=path_style("http://127.0.0.1:9000", "mlpipeline"), key="k.bin",
                       region="eu-central-1", token=token)  # fmt: skip
    assert ours["x-amz-security-token"] == header(request, "X-Amz-Security-Token")
    assert ours["Authorization"] == header(request, "Authorization")


def test_other_partitions_are_left_to_botocore():
    assert aws_target("mlpipeline", "cn-north-1") is None


def test_the_secret_never_shows_in_a_repr():
    assert "secret/with+chars" not in repr(Signer(Credentials("AKIAEXAMPLE", "secret/with+chars", "tok")).credentials)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 02 Mar 2026 10:00:07 GMT", datetime(2026, 3, 2, 10, 0, 7, tzinfo=timezone.utc)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)),  # asctime
        ("Mon, 02 Mar 2026 12:00:07 +0200", datetime(2026, 3, 2, 10, 0, 7, tzinfo=timezone.utc)),
        ("Mon, 02 Foo 2026 10:00:07 GMT", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_last_modified_dates_of_every_rfc_7231_form_parse_to_utc(value, expected):
    parsed = parse_http_date(value)
    assert parsed == expected
    assert parsed is None or parsed.utcoffset().total_seconds() == 0
