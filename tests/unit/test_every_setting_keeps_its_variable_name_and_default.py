"""Grouping the settings by concern renamed no variable and changed no default.

The fixture was generated from the flat Settings before the regrouping: every RUNLEDGER_* variable,
its documented default, its default value, and what an example value set in the environment reads as.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runledger.core.settings import Settings
from runledger.core.settings_reference import default_text, groups, variables

BEFORE = json.loads((Path(__file__).parents[1] / "support" / "settings_before_grouping.json").read_text())


def _by_variable(settings: Settings) -> dict[str, object]:
    """Each variable's value as `settings` holds it, JSON-shaped."""
    values = {}
    for group in groups():
        dumped = getattr(settings, group).model_dump(mode="json")
        for (name, _), field_name in zip(variables(group), groups()[group].model_fields, strict=True):
            values[name] = dumped[field_name]
    return values


@pytest.fixture
def clean_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.upper().startswith("RUNLEDGER_"):
            monkeypatch.delenv(name)


def test_the_variables_are_the_same_with_the_same_documented_defaults():
    now = {name: default_text(field) for group in groups() for name, field in variables(group)}
    assert sorted(now) == sorted(BEFORE)
    assert now == {name: row["documented_default"] for name, row in BEFORE.items()}


def test_the_defaults_are_the_same_values(clean_environment):
    home = str(Path.home())
    now = {name: value.replace(home, "~") if isinstance(value, str) else value
           for name, value in _by_variable(Settings()).items()}  # fmt: skip
    assert now == {name: row["default"] for name, row in BEFORE.items()}


def test_every_variable_is_read_from_the_environment_as_before(clean_environment, monkeypatch):
    for name, row in BEFORE.items():
        monkeypatch.setenv(name, row["example"])
    assert _by_variable(Settings()) == {name: row["read"] for name, row in BEFORE.items()}
