"""A setting that does not parse is reported by its environment variable, one line each."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runledger.core.settings import Settings
from runledger.core.settings_reference import validation_messages


def test_each_invalid_setting_is_one_line_naming_its_variable_and_value(monkeypatch):
    monkeypatch.setenv("RUNLEDGER_DATABASE_POOL_MAX", "0")
    with pytest.raises(ValidationError) as raised:
        Settings()
    [line] = validation_messages(raised.value)
    assert line.startswith("RUNLEDGER_DATABASE_POOL_MAX: ") and line.endswith("(got '0')")


def test_a_variable_named_apart_from_its_group_is_named_as_set(monkeypatch):
    monkeypatch.setenv("RUNLEDGER_METRICS_PER_NAMESPACE", "maybe")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert validation_messages(raised.value)[0].startswith("RUNLEDGER_METRICS_PER_NAMESPACE: ")
