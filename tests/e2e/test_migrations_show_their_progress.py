"""`runledger migrate` (and every command that migrates at start-up) shows its progress in migrations
applied against those pending: a bar with rate and time left on a terminal, summary lines in logs."""

from __future__ import annotations

import asyncio
import re

from runledger.store.migrations import available_migrations
from tests.support.processes import on_a_terminal, plain, runledger


async def test_without_a_terminal_lines_say_how_many_of_the_pending_migrations_are_applied(empty_dsn):
    env = {"RUNLEDGER_DATABASE_URL": empty_dsn, "RUNLEDGER_PROGRESS_INTERVAL_SECONDS": "0.000001"}
    code, out, err = await runledger("migrate", env=env)
    total = len(available_migrations())
    assert code == 0 and f"{total} migration(s) applied" in out, err
    lines = re.findall(r"migrate progress: (\d+) migrations of (\d+) migrations, [\d.]+ migrations/s, about \d+s left", err)
    assert lines and all(int(of) == total for _, of in lines), err
    assert "migrate done in" in err and f"{total} migrations of {total} migrations" in err
    # Nothing pending: nothing to show.
    code, out, err = await runledger("migrate", env=env)
    assert code == 0 and "0 migration(s) applied" in out and "migrate progress" not in err


async def test_on_a_terminal_a_bar_counts_the_migrations_with_the_time_left(empty_dsn):
    env = {"RUNLEDGER_DATABASE_URL": empty_dsn, "TERM": "xterm-256color", "COLUMNS": "120"}
    code, output = await asyncio.to_thread(on_a_terminal, "migrate", env=env)
    total = len(available_migrations())
    assert code == 0, output
    assert "━" in output and f"/{total} migrations" in output and "migrations/s" in output, output
    assert re.search(r"\d:\d\d:\d\d left", plain(output)), output
