"""The client calls only what the OpenAPI document describes, and reads each answer as the document shapes it.

For every endpoint of the client's table: the path and each query key it may send are in the document,
and the 200 answer is the component the client model is named after. Each client model's fields, their
JSON Schemas and which are required equal the component's (a model marked partial reads a subset).
The client's models are plain dataclasses; pydantic (the server's schema generator) writes their JSON
Schemas here, so both sides are described by the same generator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dataclasses

import pytest
from pydantic import TypeAdapter

from runledger.client import models
from runledger.client.session import ENDPOINTS

SPEC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
COMPONENTS = SPEC["components"]["schemas"]
MODELS = [m for m in vars(models).values() if dataclasses.is_dataclass(m) and m.__module__ == models.__name__]
_, CLIENT_SCHEMAS = TypeAdapter.json_schemas([(m, "validation", TypeAdapter(m)) for m in MODELS],
                                             ref_template="#/components/schemas/{model}")  # fmt: skip
# Words for people, not shape: they may differ between the client and the server.
_PROSE = {"title", "description", "examples"}


def shape(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: shape(v) for k, v in schema.items() if k not in _PROSE}
    if isinstance(schema, list):
        return [shape(v) for v in schema]
    return schema


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_endpoint_the_client_calls_is_in_the_document_with_its_parameters(name: str) -> None:
    endpoint = ENDPOINTS[name]
    operation = SPEC["paths"].get(endpoint.path, {}).get("get")
    assert operation, f"{endpoint.path} is not in the document"
    declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    assert set(endpoint.params) <= declared, set(endpoint.params) - declared
    path_params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
    assert path_params == {part[1:-1] for part in endpoint.path.split("/") if part.startswith("{")}
    content = operation["responses"]["200"]["content"]
    if endpoint.model is None:
        assert endpoint.media in content
    else:
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{endpoint.model.__name__}"}


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_client_model_has_the_fields_and_types_of_its_component(model: type) -> None:
    component = COMPONENTS.get(model.__name__)
    assert component, f"no component {model.__name__} in the document"
    mine = CLIENT_SCHEMAS["$defs"][model.__name__]
    theirs = {name: shape(s) for name, s in component["properties"].items()}
    for field, schema in mine["properties"].items():
        assert field in theirs, f"{model.__name__}.{field} is not in the document"
        assert shape(schema) == theirs[field], f"{model.__name__}.{field}"
    if not model.partial:
        assert set(mine["properties"]) == set(theirs)
        assert set(mine.get("required", [])) == set(component.get("required", []))
    else:
        assert set(component.get("required", [])) & set(mine["properties"]) == set(mine.get("required", []))


def test_every_answer_of_an_operation_the_client_calls_is_read_by_a_model() -> None:
    read = {m.__name__ for m in MODELS}
    for endpoint in ENDPOINTS.values():
        if endpoint.model is not None:
            refs = json.dumps(COMPONENTS[endpoint.model.__name__]).split('"#/components/schemas/')[1:]
            nested = {r.split('"')[0] for r in refs}
            if not endpoint.model.partial:
                assert nested <= read, f"{endpoint.model.__name__} refers to unread {nested - read}"
