"""The spec schemas kept in tests/fixtures/openlineage hold the constraints the published files hold, so an
event the published schemas would refuse is refused here too. The emission-pattern and forwarded-facet cases
passed the earlier transcriptions, written from the spec's text."""

from __future__ import annotations

from copy import deepcopy

import orjson
import pytest
from jsonschema import ValidationError

from runledger.openlineage.event_rendering import PRODUCER, render
from tests.support.openlineage_schema import validate_event
from tests.unit.test_every_openlineage_event_validates_against_the_spec import STEP

NOT_A_FACET = {"anything": 1}  # no _producer / _schemaURL


def step_event() -> dict:
    document = orjson.loads(render(STEP))
    validate_event(document)
    return deepcopy(document)


def test_a_job_type_facet_with_an_emission_pattern_outside_the_enums_is_refused():
    document = step_event()
    document["job"]["facets"]["jobType"]["emissionPattern"] = {"eventTrigger": "SOMETIMES", "eventCompleteness": "ACCUMULATIVE"}
    with pytest.raises(ValidationError, match="SOMETIMES"):
        validate_event(document)


def test_a_job_type_facet_with_an_incomplete_emission_pattern_is_refused():
    document = step_event()
    document["job"]["facets"]["jobType"]["emissionPattern"] = {"eventTrigger": "PERIODIC", "windowDuration": 0}
    with pytest.raises(ValidationError):
        validate_event(document)


@pytest.mark.parametrize("where", ["run", "job"])
def test_a_parent_facet_forwarding_something_that_is_not_a_facet_is_refused(where):
    document = step_event()
    document["run"]["facets"]["parent"][where]["facets"] = {"x": NOT_A_FACET}
    with pytest.raises(ValidationError, match="not valid under any of the given schemas"):
        validate_event(document)


def test_a_parent_facet_with_a_root_whose_run_id_is_not_a_uuid_is_refused():
    document = step_event()
    parent = document["run"]["facets"]["parent"]
    parent["root"] = {"run": {"runId": "not-a-uuid"}, "job": dict(parent["job"])}
    with pytest.raises(ValidationError, match="uuid"):
        validate_event(document)


def test_run_job_and_dataset_facets_must_each_be_a_facet():
    document = step_event()
    document["inputs"][0]["facets"]["x"] = {"_producer": PRODUCER}  # no _schemaURL
    with pytest.raises(ValidationError, match="_schemaURL"):
        validate_event(document)
