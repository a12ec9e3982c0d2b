"""JSON responses from pydantic models (the models are the response schemas)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import orjson
from aiohttp import web
from aiohttp.payload import TOO_LARGE_BYTES_BODY
from pydantic import BaseModel

from runledger.indexer.s3 import ObjectUnavailable, TransientS3Error
from runledger.store.read_models import ErrorBody, ErrorResponse


def model_response(model: BaseModel, *, status: int = 200) -> web.Response:
    return _json_body(model.model_dump_json().encode(), status=status)


def document_response(document: dict, *, status: int = 200) -> web.Response:
    """A response model's JSON from its plain document: for listings too long to build a model per row.

    orjson writes times as pydantic does (RFC 3339, UTC as "Z"), and floats alike; the handler's
    test compares the two.
    """
    return _json_body(orjson.dumps(document, option=orjson.OPT_UTC_Z), status=status)


def _json_body(body: bytes, *, status: int) -> web.Response:
    # aiohttp warns about raw bodies over its threshold (a 5,000-step run's steps are several MiB);
    # a BytesIO body is the form it asks for, sent with the same Content-Length.
    payload = io.BytesIO(body) if len(body) > TOO_LARGE_BYTES_BODY else body
    return web.Response(body=payload, status=status, content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    return model_response(ErrorResponse(error=ErrorBody(code=code, message=message)), status=status)


class S3Unavailable(Exception):
    """S3 cannot be read now (503): unreachable, timing out or overloaded."""


class S3Refused(Exception):
    """S3 refuses runledger's request for good (502): access denied, or a request it rejects."""


@contextlib.contextmanager
def s3_failures_answered(*, what: str, uri: str) -> Iterator[None]:
    """S3's failures reading `what` as the API answers them: missing 404, refused 502, unavailable 503."""
    try:
        yield
    except ObjectUnavailable as exc:
        if exc.state == "missing":
            raise web.HTTPNotFound(reason=f"{what} is missing in S3 ({uri})") from None
        raise S3Refused(f"S3 refused to send {what} ({uri}): {exc.reason}") from None
    except TransientS3Error as exc:
        raise S3Unavailable(f"S3 is unavailable ({exc}); try again") from None
