"""Checking a real response against the OpenAPI document: declared status, media type and body schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import requests


def assert_matches_spec(spec: dict[str, Any], *, template: str, method: str, response: requests.Response) -> None:
    responses = spec["paths"][template][method]["responses"]
    declared = responses.get(str(response.status_code))
    assert declared is not None, f"{method.upper()} {template} answered {response.status_code}, not in {sorted(responses)}"
    media_type = response.headers["Content-Type"].split(";")[0].strip()
    assert media_type in declared["content"], f"{media_type} is not among {sorted(declared['content'])}"
    schema = declared["content"][media_type]["schema"]
    body = response.json() if media_type == "application/json" else response.text
    # The operation's schema as the root of a document holding the components, so its $refs resolve.
    validator = jsonschema.Draft202012Validator(
        {**schema, "components": spec["components"]}, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5])
