"""`runledger import` as a user runs it: a real process against real Argo and KFP databases."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.support.argo_database import new_argo_database
from tests.support.importing import fixture_workflows
from tests.support.kfp_database import experiment_row, new_kfp_database, run_row
from tests.support.processes import free_port, on_a_terminal, plain, runledger

WORKFLOWS = fixture_workflows()


async def test_import_argo_archive_prints_counts_and_shows_progress_on_stderr(dsn, pg_server_uri) -> None:
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    await argo.archive(WORKFLOWS)
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_PROGRESS_INTERVAL_SECONDS": "0.000001"}
    code, out, err = await runledger("import", "argo-archive", "--dsn", argo.url, env=env)
    assert code == 0, err
    counts = dict(item.split("=") for item in out.split())
    assert int(counts["rows"]) == int(counts["imported"]) == len(WORKFLOWS) and counts["errors"] == "0"
    assert "import argo-archive done in" in err and "Traceback" not in err
    assert f"rows of {len(WORKFLOWS):,} rows, " in err and "rows/s" in err
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM runs") == len(WORKFLOWS)
    finally:
        await conn.close()
    # Run again: resumed after the last row, nothing left to read.
    code, out, _ = await runledger("import", "argo-archive", "--dsn", argo.url, env={"RUNLEDGER_DATABASE_URL": dsn})
    assert code == 0 and "rows=0 " in out


async def test_import_kfp_from_mariadb(dsn, mariadb) -> None:
    kfp = await new_kfp_database("mysql", mariadb=mariadb)
    await kfp.insert("experiments", [experiment_row("e", "experiment")])
    await kfp.insert("run_details", [run_row(None, uuid="00000000-0000-4000-8000-000000000001", display_name="r",
                                             experiment="e")])  # fmt: skip
    code, out, err = await runledger("import", "kfp", "--dsn", kfp.url, env={"RUNLEDGER_DATABASE_URL": dsn})
    assert code == 0, err
    assert "rows=1 imported=1 errors=0" in out


async def test_an_unreachable_source_is_one_clear_line_and_a_nonzero_exit(dsn) -> None:
    url = f"mysql://root@127.0.0.1:{free_port()}/argo"
    code, out, err = await runledger("import", "argo-archive", "--dsn", url, env={"RUNLEDGER_DATABASE_URL": dsn})
    assert code == 1
    assert "Traceback" not in out + err
    assert "run the same command again to resume" in out


async def test_an_unknown_url_scheme_is_refused_with_one_line(dsn) -> None:
    code, out, err = await runledger("import", "kfp", "--dsn", "sqlite:///x.db", env={"RUNLEDGER_DATABASE_URL": dsn})
    assert code == 2 and "unsupported database URL scheme 'sqlite'" in out and "Traceback" not in err


async def test_import_on_a_terminal_draws_a_bar_of_the_rows_read_against_those_counted(dsn, pg_server_uri) -> None:
    argo = await new_argo_database("postgres", pg_server_uri=pg_server_uri)
    await argo.archive(WORKFLOWS)
    env = {"RUNLEDGER_DATABASE_URL": dsn, "TERM": "xterm-256color", "COLUMNS": "120"}
    code, output = await asyncio.to_thread(on_a_terminal, "import", "argo-archive", "--dsn", argo.url, env=env)
    assert code == 0, output
    shown = plain(output)
    assert f"{len(WORKFLOWS)}/{len(WORKFLOWS)} rows" in shown and "rows/s" in shown and "0:00:00 left" in shown, shown
