"""The `runledger` command as a user runs it: a real process, real Postgres, real HTTP."""

from __future__ import annotations

import aiohttp
import asyncpg

from tests.support.processes import (
    free_port,
    runledger,
    running,
    stopped,
    until_demo_indexed,
    until_ready,
)
from tests.support.real_objects import fixture_files


async def test_help_lists_every_setting_it_reads():
    code, out, _ = await runledger("run", "--help", env={})
    assert code == 0
    assert "RUNLEDGER_DATABASE_URL" in out and "RUNLEDGER_INGEST_WORKERS" in out and "RUNLEDGER_API_PORT" in out


async def test_replay_of_every_fixture_succeeds_and_prints_counts(dsn):
    files = [str(p) for p in fixture_files()]
    code, out, err = await runledger("replay", *files, env={"RUNLEDGER_DATABASE_URL": dsn})
    assert code == 0, err
    counts = dict(item.split("=") for item in out.split())
    assert int(counts["events"]) == len(files) and int(counts["runs"]) == len(files)
    assert int(counts["errors"]) == 0 and int(counts["steps"]) > 100
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM runs") == len(files)
    finally:
        await conn.close()


async def test_replay_of_a_missing_file_is_a_clear_nonzero_exit(dsn, tmp_path):
    code, _, err = await runledger("replay", str(tmp_path / "nope.jsonl"), env={"RUNLEDGER_DATABASE_URL": dsn})
    assert code == 2 and "no such file" in err


async def test_replay_with_garbage_lines_exits_zero_and_counts_errors(dsn, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('garbage\n{"type": "ADDED", "object": {"kind": "Workflow", "metadata": {"name": "a"}}}\n{"kind": "Secret"}\n')
    code, out, _ = await runledger("replay", str(path), env={"RUNLEDGER_DATABASE_URL": dsn})
    counts = dict(item.split("=") for item in out.split())
    assert code == 0 and counts["runs"] == "1" and counts["errors"] == "2"


async def test_migrate_without_a_dsn_starts_the_embedded_postgres_in_the_data_dir(tmp_path):
    code, out, err = await runledger("migrate", env={"RUNLEDGER_DATA_DIR": str(tmp_path)})
    assert code == 0, err
    assert str(tmp_path / "postgres") in out
    assert (tmp_path / "postgres" / "PG_VERSION").is_file()


async def test_run_serves_what_it_ingested_and_stops_cleanly_on_sigterm(dsn):
    port = free_port()
    files = ",".join(str(p) for p in fixture_files())
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port), "RUNLEDGER_REPLAY_FILES": files}
    async with running("run", env=env, capture=True) as proc:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            await until_ready(http, timeout=60)
            async with http.get("/api/v1/runs?limit=500") as resp:
                body = await resp.json()
            assert len(body["runs"]) == len(fixture_files())
        out, err = await stopped(proc)
        assert proc.returncode == 0, err
        assert "curl" in out and "replay done" in out


async def test_run_watches_a_cluster_and_sigterm_drains_everything_it_received(dsn, tmp_path):
    from tests.support.kube_double import KubeDouble
    from tests.support.kubeconfig import write_kubeconfig

    async with KubeDouble() as double:
        for i in range(300):
            double.create("workflows", {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                        "metadata": {"name": f"wf-{i}", "namespace": "argo"},
                                        "status": {"phase": "Succeeded"}})  # fmt: skip
        config = write_kubeconfig(tmp_path / "kubeconfig", double.url)
        port = free_port()
        env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port), "RUNLEDGER_KUBE_CONFIG": str(config)}
        async with running("run", env=env, capture=True) as proc:
            await double.wait_for_watchers("workflows", 1, timeout=60)
            for i in range(300, 600):  # arrive while the agent is running, right before SIGTERM
                double.create("workflows", {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                            "metadata": {"name": f"wf-{i}", "namespace": "argo"},
                                            "status": {"phase": "Running"}})  # fmt: skip
            await double.wait_until(lambda: double.open_watches("workflows") >= 1)
            out, err = await stopped(proc, timeout=60)
            assert proc.returncode == 0, err[-2000:]
        created = {o["metadata"]["name"]: int(o["metadata"]["resourceVersion"]) for o in double.objects("workflows")}
    conn = await asyncpg.connect(dsn)
    try:
        stored = {r["name"] for r in await conn.fetch("SELECT name FROM runs")}
        checkpoint = int(await conn.fetchval("SELECT resource_version FROM watch_checkpoints WHERE stream LIKE 'workflows:%'"))
    finally:
        await conn.close()
    # The final checkpoint says up to where the agent had received events when it stopped: every
    # workflow up to it is stored (drained), so a restart resuming there loses nothing.
    received = {name for name, rv in created.items() if rv <= checkpoint}
    assert len(received) >= 300 and received <= stored


async def test_the_demo_indexes_the_recordings_artifacts_from_its_own_s3_and_shows_metrics(dsn):
    port = free_port()
    env = {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_API_PORT": str(port)}
    async with running("run", env=env, capture=True) as proc:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:

            async def get(path: str) -> dict:
                async with http.get(path) as resp:
                    return await resp.json()

            await until_demo_indexed(http)
            artifacts = (await get("/api/v1/artifacts?state=indexed&limit=50"))["artifacts"]
            assert len(artifacts) == 50 and all(a["size"] > 0 and a["etag"] for a in artifacts)
            assert (await get("/api/v1/artifacts?state=missing&limit=1"))["artifacts"], "the demo leaves a few out"
            best = (await get("/api/v1/runs?sort=-metric.accuracy&limit=1"))["runs"][0]
            metrics = (await get(f"/api/v1/runs/{best['id']}/metrics"))["metrics"]
            assert {m["name"] for m in metrics} == {"accuracy", "loss"}
        out, err = await stopped(proc)
        assert proc.returncode == 0, err
        assert "demo S3 (moto)" in out


async def test_a_static_token_list_naming_a_user_twice_stops_start_up_with_one_clear_line(dsn):
    grants = '[{"token": "narrow-token-0123456789", "user": "alice", "namespaces": ["team-a"]},' \
             ' {"token": "wide-token-0123456789ab", "user": "alice", "namespaces": ["*"]}]'
    code, out, err = await runledger("api", "--port", str(free_port()), timeout=30, env={
        "RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_AUTH_MODE": "static", "RUNLEDGER_AUTH_STATIC_TOKENS": grants,
    })  # fmt: skip
    assert code == 2, (out, err)
    assert "RUNLEDGER_AUTH_STATIC_TOKENS" in err and "alice" in err
    assert "Traceback" not in err and "0123456789" not in err
