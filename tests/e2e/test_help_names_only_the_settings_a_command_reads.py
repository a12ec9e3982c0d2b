"""Each command's --help fits a screen and names the settings it reads, by concern; `runledger settings`
prints them all."""

from __future__ import annotations

import pytest

from runledger.core.settings_reference import groups, variables
from tests.support.processes import runledger

EVERY = {name for group in groups() for name, _ in variables(group)}
READS = {  # command: (a setting it reads, a setting it never reads)
    "run": ("RUNLEDGER_LEADER_ELECTION", None),
    "api": ("RUNLEDGER_AUTH_MODE", "RUNLEDGER_INGEST_WORKERS"),
    "replay": ("RUNLEDGER_INGEST_WORKERS", "RUNLEDGER_API_PORT"),
    "migrate": ("RUNLEDGER_DATABASE_URL", "RUNLEDGER_KUBE_CONFIG"),
    "import": ("RUNLEDGER_ARGO_DATABASE_URL", "RUNLEDGER_LEADER_ELECTION"),
}


def named(text: str) -> set[str]:
    return {word for word in EVERY if f"{word}=" in text}


@pytest.mark.parametrize("command", READS)
async def test_a_commands_help_fits_a_screen_and_names_only_what_it_reads(command):
    code, out, _ = await runledger(command, "--help", env={}, timeout=30)
    assert code == 0
    assert len(out.splitlines()) < 60, out
    reads, never = READS[command]
    assert reads in named(out) and (never is None or never not in out)
    assert "database:" in out


async def test_the_top_level_help_fits_a_screen_and_points_at_the_settings_command():
    code, out, _ = await runledger("--help", env={}, timeout=30)
    assert code == 0 and len(out.splitlines()) < 60 and "runledger settings" in out and "--version" in out


async def test_the_settings_command_prints_every_setting():
    code, out, _ = await runledger("settings", env={}, timeout=30)
    assert code == 0 and all(f"`{name}`" in out for name in EVERY)
