"""The real `kfp` SDK reads runledger: kfp 2's Client over /apis/v2beta1, kfp 1.8's over /apis/v1beta1.

The SDKs pin their own dependencies (kfp 2: protobuf 6, kubernetes < 31, google-cloud-storage; kfp 1.8:
pydantic 1, protobuf 3, urllib3 1.x), which clash with runledger's, so each lives in a venv of its own
under `.venv-kfp/` at the repository root, built on first use (about 20 s for kfp 2, 50 s for kfp 1.8
from PyPI) and reused while its pins are unchanged. The client runs as a subprocess of that venv against
the API served by this test process on 127.0.0.1, and prints what the SDK's objects hold as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from runledger.service import build_app
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.real_objects import fixture_files
from tests.support.workflows import load

VENVS = Path(__file__).resolve().parents[2] / ".venv-kfp"
KFP_2 = ("kfp==2.16.1", "kfp-server-api==2.17.3")
KFP_1 = ("kfp==1.8.22", "kfp-server-api==1.8.5")
RETRY_RUN_ID = "2f9a3d50-454c-4979-be8d-f222bc245bc1"  # label pipeline/runid of mock-retry-runtime.json
HELLO_UID = "3ac97065-691d-11e8-802f-42010af0033a"  # hello-world-runtime.json has no KFP run id

pytestmark = pytest.mark.timeout(600)  # a first run installs the SDK


def sdk_python(requirements: tuple[str, ...]) -> Path:
    """The python of a venv holding exactly `requirements`, built once and reused."""
    venv = VENVS / requirements[0].replace("==", "-")
    marker = venv / ".installed"
    wanted = "\n".join(requirements)
    VENVS.mkdir(exist_ok=True)
    with open(VENVS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions must not build the same venv at once
        if marker.exists() and marker.read_text() == wanted:
            return venv / "bin" / "python"
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
            capture_output=True, text=True, timeout=540,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n{done.stdout}\n{done.stderr}")
        marker.write_text(wanted)
    return venv / "bin" / "python"


@contextlib.asynccontextmanager
async def runledger_api(pool, settings) -> AsyncIterator[str]:
    team_a = WorkflowBuilder(name="train-a", namespace="team-a").phase("Running", at="2026-01-01T00:00:05Z")
    team_a.obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    team_a.node("root", "Running", type="DAG").node("step", "Succeeded", parent="root", boundaryID="root")
    failed = WorkflowBuilder(name="train-b", namespace="team-b").phase("Failed", at="2026-01-01T00:09:00Z")
    failed.obj["metadata"]["creationTimestamp"] = "2026-01-01T00:05:00Z"
    fixtures = [load(p) for p in fixture_files() if p.name in ("mock-retry-runtime.json", "hello-world-runtime.json")]
    await ingest(pool, settings, [team_a.event("ADDED"), failed.event("ADDED"), *({"type": "ADDED", "object": f} for f in fixtures)])
    server = TestServer(build_app(settings=settings, pool=pool), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def run_client(python: Path, script: str, host: str, home: Path) -> dict:
    """Run `script` under the SDK's venv without blocking this loop, which serves the API meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        str(python), "-c", script, host,
        env={**os.environ, "HOME": str(home)},  # no ~/.config/kfp/context.json of the machine's user
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-4000:]
    return json.loads(out)


KFP_2_SCRIPT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import kfp, kfp_server_api

client = kfp.Client(host=sys.argv[1])  # reads /apis/v2beta1/healthz on the way

def run(r):
    return {"run_id": r.run_id, "display_name": r.display_name, "state": r.state, "storage_state": r.storage_state,
            "created_at": r.created_at.isoformat(), "finished_at": r.finished_at and r.finished_at.isoformat(),
            "parameters": r.runtime_config.parameters if r.runtime_config else None}

pages, token = [], ""
while True:
    page = client.list_runs(page_size=2, sort_by="created_at desc", page_token=token)
    pages.append([run(r) for r in page.runs or []])
    token = page.next_page_token
    if not token:
        break
detail = client.get_run("2f9a3d50-454c-4979-be8d-f222bc245bc1")
by_uid = client.get_run("3ac97065-691d-11e8-802f-42010af0033a")
failed = client.list_runs(filter=json.dumps({"predicates": [{"operation": "EQUALS", "key": "state", "stringValue": "FAILED"}]}))
try:
    client.get_run("no-such-run")
    missing = None
except kfp_server_api.ApiException as exc:
    missing = {"status": exc.status, "body": json.loads(exc.body)}
print(json.dumps({
    "multi_user": client.get_kfp_healthz().multi_user,
    "total_size": page.total_size,
    "pages": pages,
    "detail": run(detail) | {"tasks": sorted(t.task_id for t in detail.run_details.task_details),
                             "history": [h.state for h in detail.state_history]},
    "by_uid": run(by_uid),
    "team_a": [r.display_name for r in client.list_runs(namespace="team-a").runs],
    "failed": [r.display_name for r in failed.runs],
    "missing": missing,
}))
"""


async def test_kfp_2_client_lists_and_gets_runs_over_v2beta1(pool, settings, tmp_path):
    python = await asyncio.to_thread(sdk_python, KFP_2)
    async with runledger_api(pool, settings) as host:
        seen = await run_client(python, KFP_2_SCRIPT, host, tmp_path)
    assert seen["multi_user"] is False and seen["total_size"] == 4
    assert [len(p) for p in seen["pages"]] == [2, 2]
    listed = [r for page in seen["pages"] for r in page]
    assert [r["display_name"] for r in listed] == ["train-b", "train-a", "retry-random-failures-p9snt", "hello-world-7sm94"]
    train_b = listed[0]
    assert train_b["run_id"] == "kfp-train-b" and train_b["state"] == "FAILED" and train_b["storage_state"] == "AVAILABLE"
    assert train_b["created_at"] == "2026-01-01T00:05:00+00:00" and train_b["finished_at"] == "2026-01-01T00:09:00+00:00"
    assert train_b["parameters"] == {"lr": "0.1"}
    assert listed[1]["state"] == "RUNNING" and listed[1]["finished_at"] is None
    detail = seen["detail"]
    assert detail["run_id"] == RETRY_RUN_ID and detail["display_name"] == "retry-random-failures-p9snt"
    assert detail["state"] == "SUCCEEDED" and detail["history"] == ["SUCCEEDED"] and len(detail["tasks"]) == 5
    assert seen["by_uid"]["run_id"] == HELLO_UID and seen["by_uid"]["state"] == "SUCCEEDED"
    assert seen["team_a"] == ["train-a"] and seen["failed"] == ["train-b"]
    assert seen["missing"]["status"] == 404 and seen["missing"]["body"]["code"] == 5


KFP_1_SCRIPT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import kfp

client = kfp.Client(host=sys.argv[1])  # reads /apis/v1beta1/healthz on the way
listing = client.list_runs(page_size=10, sort_by="created_at desc")
detail = client.get_run("2f9a3d50-454c-4979-be8d-f222bc245bc1")
manifest = json.loads(detail.pipeline_runtime.workflow_manifest)
team_a = client.list_runs(namespace="team-a")
named = client.list_runs(filter=json.dumps({"predicates": [{"op": "EQUALS", "key": "name", "string_value": "train-b"}]}))
print(json.dumps({
    "total_size": listing.total_size,
    "runs": [{"id": r.id, "name": r.name, "status": r.status, "storage_state": r.storage_state,
              "created_at": r.created_at.isoformat(),
              "namespace": [ref.key.id for ref in r.resource_references if ref.key.type == "NAMESPACE"]}
             for r in listing.runs],
    "detail": {"id": detail.run.id, "status": detail.run.status, "phase": manifest["status"]["phase"],
               "nodes": {n["id"]: [n["type"], n["phase"]] for n in manifest["status"]["nodes"].values()}},
    "team_a": [r.name for r in team_a.runs],
    "named": [r.id for r in named.runs],
}))
"""


async def test_kfp_1_8_client_lists_and_gets_runs_over_v1beta1(pool, settings, tmp_path):
    python = await asyncio.to_thread(sdk_python, KFP_1)
    async with runledger_api(pool, settings) as host:
        seen = await run_client(python, KFP_1_SCRIPT, host, tmp_path)
    assert seen["total_size"] == 4
    runs = {r["name"]: r for r in seen["runs"]}
    assert list(runs) == ["train-b", "train-a", "retry-random-failures-p9snt", "hello-world-7sm94"]
    assert runs["train-b"] == {"id": "kfp-train-b", "name": "train-b", "status": "Failed", "storage_state": "STORAGESTATE_AVAILABLE",
                               "created_at": "2026-01-01T00:05:00+00:00", "namespace": ["team-b"]}  # fmt: skip
    assert runs["hello-world-7sm94"]["id"] == HELLO_UID
    raw = load(next(p for p in fixture_files() if p.name == "mock-retry-runtime.json"))["status"]["nodes"]
    assert seen["detail"]["id"] == RETRY_RUN_ID and seen["detail"]["status"] == "Succeeded"
    assert seen["detail"]["nodes"] == {n["id"]: [n["type"], n["phase"]] for n in raw.values()}
    assert seen["team_a"] == ["train-a"] and seen["named"] == ["kfp-train-b"]
