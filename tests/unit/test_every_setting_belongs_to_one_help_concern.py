"""`--help` lists settings by group: every setting is in exactly one group, so none is missing from every help."""

from __future__ import annotations

from runledger.core.settings_reference import command_help, groups, variables


def test_every_setting_is_listed_under_exactly_one_group():
    everything = command_help(groups=list(groups()))
    names = [name for group in groups() for name, _ in variables(group)]
    assert len(names) == len(set(names))
    for name in names:
        assert everything.count(f"{name}=") == 1, name
