"""`runledger runs/lineage/artifacts/compare` as a user runs them: a `runledger run` process serving the
demo, the commands as processes of their own, their output read as the user reads it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import aiohttp
import pytest

from tests.support.builders import WorkflowBuilder
from tests.support.postgres import create_database
from tests.support.processes import (
    free_port,
    runledger,
    running,
    stopped,
    until_demo_indexed,
)

# Starting `runledger run` and indexing the demo is part of the first test of the module.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def served(pg_server_uri, template_database):
    dsn = await create_database(pg_server_uri, template=template_database)
    port = free_port()
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port)}
    async with running("run", env=env) as proc:
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(url) as http:
            await until_demo_indexed(http)
        yield url, dsn
        await stopped(proc)


@pytest.fixture
def server(served):
    return served[0]


async def query(server: str, *args: str) -> tuple[int, str, str]:
    return await runledger(*args, env={"RUNLEDGER_SERVER": server, "COLUMNS": "", "KUBECONFIG": "/nonexistent"})


async def api(server: str, path: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(server + path) as resp:
        return await resp.json()


async def test_runs_list_prints_the_same_runs_as_the_api_as_json_and_as_a_table(server):
    code, out, err = await query(server, "runs", "list", "--limit", "0", "-o", "json")
    assert code == 0, err
    expected = (await api(server, "/api/v1/runs?limit=500"))["runs"]
    assert [r["id"] for r in json.loads(out)] == [r["id"] for r in expected] and len(expected) == 40

    code, out, err = await query(server, "runs", "list", "--phase", "Failed", "--limit", "3")
    header, *rows = out.splitlines()
    assert code == 0 and header.split() == ["NAMESPACE", "NAME", "PHASE", "AGE", "DURATION", "PIPELINE"]
    assert len(rows) == 3 and all(row.split()[2] == "Failed" for row in rows)


async def test_runs_list_filters_and_sorts_as_the_api_does(server):
    code, out, err = await query(server, "runs", "list", "--metric", "accuracy>=0.9", "--sort=-metric.accuracy",
                                 "--param", "epochs=30", "-l", "pipeline/runid", "-o", "yaml")  # fmt: skip
    assert code == 0, err
    import yaml

    expected = await api(server, "/api/v1/runs?metric.accuracy%3E=0.9&sort=-metric.accuracy&param.epochs=30&label=pipeline/runid")
    assert [r["id"] for r in yaml.safe_load(out)] == [r["id"] for r in expected["runs"]] != []


async def test_runs_get_finds_a_run_by_id_kfp_run_id_and_namespace_name_and_draws_its_steps(server):
    run = (await api(server, "/api/v1/runs?limit=1&phase=Succeeded"))["runs"][0]
    steps = (await api(server, f"/api/v1/runs/{run['id']}/steps"))["steps"]
    for ref in (run["id"], run["kfp_run_id"], f"{run['namespace']}/{run['name']}"):
        code, out, err = await query(server, "runs", "get", ref, "-o", "json")
        assert code == 0, err
        body = json.loads(out)
        assert body["run"]["id"] == run["id"] and len(body["steps"]) == len(steps)
    code, out, err = await query(server, "runs", "get", run["id"], "-o", "wide")
    assert code == 0, err
    fields, table = out.split("\n\n")
    assert f"Name:       {run['namespace']}/{run['name']}" in fields and "Phase:      Succeeded" in fields
    header, *rows = table.splitlines()
    assert header.split()[:6] == ["STEP", "PHASE", "DURATION", "POD", "NODE", "EXIT"] and len(rows) == len(steps)
    assert rows[0].startswith(run["name"]) and any(row.startswith(("├─ ", "└─ ")) for row in rows)


async def test_lineage_artifacts_and_compare_answer_as_the_api_does(server):
    runs = (await api(server, "/api/v1/runs?limit=2&sort=-metric.accuracy"))["runs"]
    code, out, err = await query(server, "lineage", f"{runs[0]['namespace']}/{runs[0]['name']}", "--depth", "1", "-o", "json")
    assert code == 0, err
    assert json.loads(out) == await api(server, f"/api/v1/lineage?node=run:{runs[0]['id']}&direction=both&depth=1")

    code, out, err = await query(server, "artifacts", "list", "--run", runs[0]["id"], "--state", "indexed")
    header, *rows = out.splitlines()
    assert code == 0 and header.split() == ["ID", "STATE", "SIZE", "URI"] and rows
    code, out, err = await query(server, "artifacts", "get", rows[0].split()[0], "-o", "json")
    assert code == 0 and json.loads(out)["produced_by"][0]["run_id"] == runs[0]["id"]

    code, out, err = await query(server, "compare", runs[0]["id"], runs[1]["kfp_run_id"], "-o", "json")
    assert code == 0, err
    compared = json.loads(out)
    assert [r["id"] for r in compared["runs"]] == [r["id"] for r in runs] and "accuracy" in compared["metrics"]
    code, out, err = await query(server, "compare", runs[0]["id"], runs[1]["id"])
    assert code == 0 and out.splitlines()[0].split() == [runs[0]["name"], runs[1]["name"]]
    assert any(line.startswith("metric accuracy") for line in out.splitlines())


async def test_mistakes_print_one_or_two_lines_and_exit_2_failures_exit_1(server):
    cases = [
        (("runs", "get", "nope"), 1, "no run has the id or KFP run id 'nope'"),
        (("runs", "list", "--sort", "bogus"), 2, "unknown sort key 'bogus'"),
        (("runs", "list", "--param", "lr"), 2, "--param 'lr' is not NAME=VALUE"),
        (("runs", "list", "--server", f"http://127.0.0.1:{free_port()}"), 1, "cannot reach"),
        (("runs", "list", "--server", "ftp://x"), 2, "not an http(s) URL"),
    ]
    for args, expected_code, message in cases:
        code, out, err = await query(server, *args)
        assert (code, out) == (expected_code, ""), (args, err)
        assert message in err and len(err.splitlines()) <= 2 and "Traceback" not in err, (args, err)


async def test_version_prints_the_package_version():
    code, out, _ = await runledger("--version", env={})
    assert code == 0 and out.startswith("runledger 0.")


async def test_watch_prints_the_list_then_each_run_whose_phase_changes(served, tmp_path):
    server, dsn = served
    env = {**os.environ, "RUNLEDGER_SERVER": server, "KUBECONFIG": "/nonexistent"}
    watch = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runledger", "runs", "list", "-n", "watched", "--watch", "-o", "json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert await asyncio.wait_for(watch.stdout.readline(), 30) == b"[]\n"  # nothing in that namespace yet
        events = tmp_path / "events.jsonl"
        events.write_text(json.dumps(WorkflowBuilder(name="late", namespace="watched").phase("Running").event("ADDED")) + "\n")
        code, out, err = await runledger("replay", str(events), env={"RUNLEDGER_DATABASE_URL": dsn})
        assert code == 0, err
        line = json.loads(await asyncio.wait_for(watch.stdout.readline(), 30))
        assert (line["namespace"], line["name"], line["phase"]) == ("watched", "late", "Running")
    finally:
        watch.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(watch.communicate(), 30)
    assert watch.returncode == 130 and b"Traceback" not in err


async def test_stats_prints_each_pipeline_s_figures_as_the_api_answers_them(server):
    code, out, err = await query(server, "stats", "--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01T00:00:00Z",
                                 "-o", "json")  # fmt: skip
    assert code == 0, err
    expected = await api(server, "/api/v1/stats/pipelines?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z")
    assert json.loads(out)["groups"] == expected["groups"] and expected["groups"]

    pipeline = next(g["name"] for g in expected["groups"] if g["name"])  # other tests add runs without one
    code, out, err = await query(server, "stats", pipeline, "--since", "2000-01-01T00:00:00Z", "--until", "2100-01-01T00:00:00Z")  # fmt: skip
    header, first, *templates = out.splitlines()
    assert code == 0 and header.split()[:3] == ["TEMPLATE", "COUNT", "OK%"]
    assert first.startswith("(the runs)") and templates


async def test_stats_with_a_time_it_cannot_read_says_so_in_one_line(server):
    code, out, err = await query(server, "stats", "--since", "last tuesday")
    assert code == 2 and err.startswith("runledger: --since:") and len(err.splitlines()) == 1
