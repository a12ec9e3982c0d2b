"""`runledger replay` over every bad input of the corpus, mixed with the real fixtures: exact counts, no good run lost."""

from __future__ import annotations

import asyncpg

from runledger.agent.translate import translate_workflow
from tests.support.bad_inputs import expected_errors, write_corpus
from tests.support.ingesting import replay_command
from tests.support.real_objects import fixture_files
from tests.support.workflows import load


async def test_the_corpus_replays_with_exact_counts_and_every_good_run_stored(dsn, settings, tmp_path):
    cases = write_corpus(tmp_path / "corpus")
    fixtures = fixture_files()
    paths = [p for pair in zip(fixtures, [c.path for c in cases]) for p in pair]
    paths += fixtures[len(cases) :] + [c.path for c in cases[len(fixtures) :]]
    code, counts = await replay_command(settings.updated(database={"url": dsn}), paths)
    assert code == 0
    good = [name for case in cases for name in case.runs] + [translate_workflow(load(p)).run.name for p in fixtures]
    errors = expected_errors(cases)
    assert int(counts["events"]) == len(good) == sum(c.events for c in cases) + len(fixtures)
    assert int(counts["runs"]) == len(good)
    assert int(counts["errors"]) == errors.total()
    assert {k.removeprefix("errors."): int(v) for k, v in counts.items() if k.startswith("errors.")} == errors
    conn = await asyncpg.connect(dsn)
    try:
        stored = {r["name"] for r in await conn.fetch("SELECT name FROM runs")}
    finally:
        await conn.close()
    assert stored == set(good)
