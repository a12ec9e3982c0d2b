"""AWS Signature Version 4 for S3 object requests without a body (HEAD, GET), and their URLs.

botocore signs a request by building an ``AWSRequest``, running it through its event system and
its generic canonicalisation, at a cost of about a millisecond of CPU per HEAD. What a HEAD of one
object needs is much smaller: the canonical request of a bodiless request with no query string
has a fixed shape, and the derived signing key changes only with the date, region and secret, so
it is computed once a day rather than four HMACs per request. The rules followed are S3's own:

* the canonical URI is the path exactly as sent: every key byte but ``A-Za-z0-9-._~`` and ``/``
  percent-encoded (UTF-8), no double encoding, and no normalisation of ``//``, ``.`` or ``..``
  segments (S3 keys may hold them; the generic SigV4 rules for other services differ here);
* the payload hash is the SHA-256 of the empty body, sent as ``x-amz-content-sha256``;
* the signed headers are ``host`` (without a default port), ``x-amz-content-sha256``,
  ``x-amz-date`` and, with temporary credentials, ``x-amz-security-token`` — what botocore signs
  for the same request, so the tests compare both signatures byte for byte.

Secrets stay inside ``Credentials`` (``repr`` hides them) and never reach a header but the
signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Target:
    """Where an object's requests go: the URL prefix before the encoded key, and the Host header."""

    base: str  # scheme://host[:port][/prefix] — path-style ends with /bucket
    host: str  # as sent and signed: no default port
    path_prefix: str  # the part of the canonical URI before the key: "/bucket" or "" (or an endpoint's path)


def quote_key(key: str) -> str:
    """A key as S3 wants it in a path: every byte but unreserved characters and '/' percent-encoded."""
    return quote(key, safe="/~")


def path_style(endpoint_url: str, bucket: str) -> Target:
    parts = urlsplit(endpoint_url)
    prefix = parts.path.rstrip("/") + "/" + quote(bucket, safe="~")
    return Target(base=f"{parts.scheme}://{parts.netloc}{prefix}", host=_host(parts), path_prefix=prefix)


def aws_target(bucket: str, region: str) -> Target | None:
    """AWS's own endpoint, addressed as botocore's "auto" style does; None where that takes more rules
    (other partitions) than the plain commercial one."""
    if region.startswith(("cn-", "us-iso")):
        return None
    host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
    if _virtual_hostable(bucket):
        host = f"{bucket}.{host}"
        return Target(base=f"https://{host}", host=host, path_prefix="")
    prefix = "/" + quote(bucket, safe="~")
    return Target(base=f"https://{host}{prefix}", host=host, path_prefix=prefix)


def _virtual_hostable(bucket: str) -> bool:
    # A bucket name with dots breaks the wildcard TLS certificate, so botocore keeps those path-style.
    if not 3 <= len(bucket) <= 63 or "." in bucket:
        return False
    return bucket == bucket.lower() and bucket[0].isalnum() and bucket[-1].isalnum() and all(
        c.isalnum() or c == "-" for c in bucket
    ) and bucket.isascii()  # fmt: skip


def _host(parts) -> str:  # noqa: ANN001 - a urllib SplitResult
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class Signer:
    """Signs bodiless S3 requests for one set of credentials; keeps the derived key per day and region."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._keys: dict[tuple[str, str], bytes] = {}
        self._second = -1
        self._amz_date = ""

    def headers(self, method: str, target: Target, encoded_key: str, region: str, *,
                now: datetime | None = None) -> dict[str, str]:  # fmt: skip
        """The headers that authenticate `method` of target/encoded_key, the Host header included."""
        amz_date = now.strftime("%Y%m%dT%H%M%SZ") if now is not None else self._now()
        day = amz_date[:8]
        token = self.credentials.token
        if token:
            canonical_headers = (f"host:{target.host}\nx-amz-content-sha256:{EMPTY_SHA256}\n"
                                 f"x-amz-date:{amz_date}\nx-amz-security-token:{token}\n")  # fmt: skip
            signed = "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
        else:
            canonical_headers = f"host:{target.host}\nx-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:{amz_date}\n"
            signed = "host;x-amz-content-sha256;x-amz-date"
        canonical_request = (f"{method}\n{target.path_prefix}/{encoded_key}\n\n{canonical_headers}\n{signed}\n"
                             f"{EMPTY_SHA256}")  # fmt: skip
        scope = f"{day}/{region}/s3/aws4_request"
        string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        signature = hmac.new(self._key(day, region), string_to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "Host": target.host,
            "x-amz-content-sha256": EMPTY_SHA256,
            "x-amz-date": amz_date,
            "Authorization": f"{ALGORITHM} Credential={self.credentials.access_key}/{scope}, "
                             f"SignedHeaders={signed}, Signature={signature}",
        }  # fmt: skip
        if token:
            headers["x-amz-security-token"] = token
        return headers

    def _now(self) -> str:
        # Formatting the date is a visible share of a signature's cost; it changes once a second.
        second = int(time.time())
        if second != self._second:
            self._amz_date = datetime.fromtimestamp(second, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            self._second = second
        return self._amz_date

    def _key(self, day: str, region: str) -> bytes:
        key = self._keys.get((day, region))
        if key is None:
            if len(self._keys) > 64:
                self._keys.clear()  # days go by; regions are few
            key = ("AWS4" + self.credentials.secret_key).encode()
            for part in (day, region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys[(day, region)] = key
        return key
