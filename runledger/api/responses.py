"""JSON responses from pydantic models (the models are the response schemas)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from runledger.store.records import ErrorBody, ErrorResponse


def model_response(model: BaseModel, *, status: int = 200) -> web.Response:
    return web.Response(body=model.model_dump_json(), status=status, content_type="application/json")


def error_response(status: int, code: str, message: str) -> web.Response:
    return model_response(ErrorResponse(error=ErrorBody(code=code, message=message)), status=status)


class S3Unavailable(Exception):
    """S3 cannot be read now (503): unreachable, timing out or overloaded."""


class S3Refused(Exception):
    """S3 refuses runledger's request for good (502): access denied, or a request it rejects."""
