"""`--help` groups settings by concern: every setting is in exactly one, so none is missing from every help."""

from __future__ import annotations

from runledger.core.settings import Settings
from runledger.core.settings_reference import CONCERNS, command_help


def test_every_setting_is_listed_under_exactly_one_concern():
    everything = command_help(concerns=list(CONCERNS))
    for name in Settings.model_fields:
        assert everything.count(f"RUNLEDGER_{name.upper()}=") == 1, name
