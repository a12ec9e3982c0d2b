"""Checks an emitted OpenLineage event against the spec's published JSON Schemas (tests/fixtures/openlineage)
and runledger's custom facets against their own (runledger/openlineage/facets)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openlineage"
CUSTOM = Path(__file__).parent.parent.parent / "runledger" / "openlineage" / "facets"


@cache
def _registry() -> Registry:
    docs = [json.loads(p.read_text()) for p in [*sorted(FIXTURES.glob("*.json")), *sorted(CUSTOM.glob("*.json"))]]
    return Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)


def _check(document: dict, schema_url: str) -> None:
    Draft202012Validator({"$ref": schema_url}, registry=_registry(),
                         format_checker=Draft202012Validator.FORMAT_CHECKER).validate(document)  # fmt: skip


def validate_event(event: dict) -> None:
    """Raises jsonschema.ValidationError unless `event` is a valid RunEvent whose every facet is valid."""
    _check(event, event["schemaURL"])
    assert event["schemaURL"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    facets = [*event["run"].get("facets", {}).values(), *event["job"].get("facets", {}).values()]
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        facets += [*dataset.get("facets", {}).values(), *dataset.get("inputFacets", {}).values(),
                   *dataset.get("outputFacets", {}).values()]  # fmt: skip
    for facet in facets:
        _check(facet, facet["_schemaURL"])  # an unknown schema URL fails: every facet is checked
