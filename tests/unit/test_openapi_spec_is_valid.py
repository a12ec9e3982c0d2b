"""GET /openapi.json is a valid OpenAPI 3.1 document built from the response models."""

from __future__ import annotations

import json

import jsonschema
from openapi_spec_validator import validate

from runledger.api.openapi import COMMITTED, REGENERATE, build_spec


def test_the_document_validates_as_openapi_3_1():
    spec = build_spec()
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_schema_in_it_is_a_valid_json_schema():
    spec = build_spec()
    for schema in spec["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for item in spec["paths"].values():
        for param in item["get"]["parameters"]:
            jsonschema.Draft202012Validator.check_schema(param["schema"])


def test_operation_ids_are_unique_and_every_operation_answers_200():
    operations = [op for item in build_spec()["paths"].values() for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all("200" in op["responses"] for op in operations)


def test_every_reference_resolves_to_a_component():
    spec = build_spec()
    refs: list[str] = []

    def collect(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(spec)
    assert refs
    names = set(spec["components"]["schemas"])
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= names


def test_the_copy_in_docs_is_the_document_the_server_serves():
    def without_version(spec: dict) -> dict:  # the installed package's version; everything else must match
        spec = json.loads(json.dumps(spec))
        spec["info"].pop("version", None)
        return spec

    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert without_version(committed) == without_version(build_spec()), (
        f"docs/openapi.json is out of date; regenerate it with `{REGENERATE}`"
    )
