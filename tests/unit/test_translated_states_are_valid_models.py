"""Translation builds its models without pydantic's second validation pass; what it builds must still
be exactly what validation would build, for every real fixture (and a pydantic upgrade that changed
how instances are laid out would fail here, not in production)."""

from __future__ import annotations

import pytest

from runledger.agent.translate import translate_workflow
from runledger.core.run_state import RunState
from tests.support.real_objects import fixture_files
from tests.support.workflows import load

FIXTURES = fixture_files()


@pytest.mark.parametrize("path", FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in FIXTURES])
def test_a_translated_state_equals_its_validated_copy(path):
    state = translate_workflow(load(path))
    validated = RunState.model_validate(state.model_dump())
    assert validated == state
    assert validated.model_dump_json() == state.model_dump_json()
    assert state.model_fields_set == validated.model_fields_set
    assert all(step.model_fields_set == set(type(step).model_fields) for step in state.steps)
