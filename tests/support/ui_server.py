"""A seeded runledger app for the browser tests, served from a thread of its own.

Playwright's sync API blocks, so the app, its pool and the seeding live on a loop in a background
thread (tests/support/loop_thread.py). The data: every real fixture and the KFP-style runs of live_api (indexed
metrics in moto's S3), plus what the UI must draw: a run whose step wrote mlpipeline-ui-metadata
with every viewer type, a 5,000-pod fan-out, a workflow whose names and messages carry markup
payloads, and a run in each of two tenant namespaces. Two apps serve the one database: one open,
one with static tokens.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import asyncpg
from aiohttp import web
from pydantic import SecretStr

from runledger.core.settings import Settings
from runledger.service import build_app
from runledger.store import connection as db
from tests.support.artifacts import index_everything, kfp_step_workflow
from tests.support.builders import WorkflowBuilder, pod_of
from tests.support.ingesting import ingest
from tests.support.live_api import seed_api_data
from tests.support.logs import archived_log
from tests.support.loop_thread import LoopThread
from tests.support.postgres import create_database
from tests.support.s3 import MotoServer, S3Objects, argo_tgz, s3_settings

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
TEAM_A_TOKEN = "team-a-token-0123456789"
TOKENS = [{"token": TEAM_A_TOKEN, "user": "alice", "namespaces": ["team-a"]}]
FANOUT_NODES = 5000

# A web app as KFP's visualizations write them: a script, a style sheet, an inline style and handler, a remote image.
WEB_APP = ('<html><head><style>p { color: red }</style><script>parent.document.title = "ran"</script></head>'
           '<body><p style="color: red" onclick="parent.document.title = \'clicked\'">a chart '
           '<img src="https://example.com/plot.png" alt="plot"></p><table><tr><td>cell</td></tr></table></body></html>')
UI_METADATA = {"outputs": [
    {"type": "markdown", "storage": "inline", "source": "# Report\n\nAccuracy is **0.93** on `holdout`.\n\n- one\n- two"},
    {"type": "table", "storage": "inline", "format": "csv", "header": ["feature", "importance"], "source": "age,0.41\nincome,0.33"},
    {"type": "confusion_matrix", "storage": "inline", "format": "csv", "labels": ["cat", "dog"],
     "schema": [{"name": "target", "type": "CATEGORY"}, {"name": "predicted", "type": "CATEGORY"}, {"name": "count", "type": "NUMBER"}],
     "source": "cat,cat,40\ncat,dog,5\ndog,cat,3\ndog,dog,52"},
    {"type": "roc", "storage": "inline", "format": "csv",
     "schema": [{"name": "fpr", "type": "NUMBER"}, {"name": "tpr", "type": "NUMBER"}, {"name": "thresholds", "type": "NUMBER"}],
     "source": "0,0,1\n0.1,0.6,0.8\n0.3,0.85,0.5\n1,1,0"},
    {"type": "web-app", "storage": "inline", "source": WEB_APP},
    {"type": "tensorboard", "source": "s3://mlpipeline/logs/report"},
]}  # fmt: skip


@dataclass
class UiServer:
    base: str
    auth_base: str
    runs: dict[str, str]  # name -> id
    thread: LoopThread
    pool: asyncpg.Pool
    settings: Settings

    def push(self, events: list[dict]) -> None:
        """Ingest more events into the served database (what a watch would deliver)."""
        self.thread.run(ingest(self.pool, self.settings, events))

    def artifact_id(self, key: str) -> int:
        return self.thread.run(self.pool.fetchval("SELECT id FROM artifacts WHERE key = $1", key))


def _xss_workflow() -> dict:
    wf = WorkflowBuilder(name="xss-run", namespace="ml")
    wf.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = XSS
    wf.obj["spec"]["arguments"]["parameters"] = [{"name": "payload", "value": XSS}]
    wf.node("xss-run", "Failed", type="DAG", displayName=XSS, message=XSS)
    wf.node("xss-step", "Failed", parent="xss-run", displayName=f"step {XSS}", message=XSS,
            outputs={"parameters": [{"name": "out", "value": XSS}]})
    wf.obj["status"]["message"] = XSS
    return wf.phase("Failed").event()


def fanout_workflow(name: str = "fanout", *, pods: int = FANOUT_NODES) -> dict:
    """A finished Steps run fanning out `pods` pods from one step group, some failed, skipped or retried."""
    wf = WorkflowBuilder(name=name, namespace="ml")
    nodes = wf.obj["status"]["nodes"]
    group = f"{name}-group"
    nodes[name] = {"id": name, "name": name, "displayName": name, "type": "Steps", "phase": "Failed",
                   "startedAt": "2026-01-01T00:00:01Z", "finishedAt": "2026-01-01T00:20:00Z", "children": [group]}
    nodes[group] = {"id": group, "name": f"{name}[0]", "displayName": "[0]", "type": "StepGroup", "phase": "Failed",
                    "startedAt": "2026-01-01T00:00:01Z", "finishedAt": "2026-01-01T00:20:00Z", "children": []}
    for i in range(pods):
        phase = "Failed" if i % 97 == 0 else "Skipped" if i % 211 == 0 else "Succeeded"
        node = {"id": f"{name}-{i}", "name": f"{name}[0].shard({i})", "displayName": f"shard({i})", "type": "Pod",
                "templateName": "shard", "phase": phase, "startedAt": f"2026-01-01T00:{i % 60:02d}:00Z",
                "finishedAt": "2026-01-01T01:00:00Z"}
        if phase == "Skipped":
            node.update(type="Skipped")
            del node["startedAt"], node["finishedAt"]
        nodes[node["id"]] = node
        nodes[group]["children"].append(node["id"])
    return wf.phase("Failed", at="2026-01-01T01:00:00Z").event("ADDED")


def _tenant_runs() -> list[dict]:
    """A run in team-a reading what a run in team-b wrote: team-a's lineage meets a redacted node."""
    shared = {"name": "data", "path": "/tmp/data", "s3": {"bucket": "mlpipeline", "key": "shared/data.csv"}}
    events = []
    for ns, io in (("team-a", {"inputs": {"artifacts": [shared]}}), ("team-b", {"outputs": {"artifacts": [shared]}})):
        wf = WorkflowBuilder(name=f"{ns}-run", namespace=ns)
        wf.node(f"{ns}-run", "Succeeded", **io)
        events.append(wf.phase("Succeeded").event())
    return events


LONG_STEP = "preprocess-" + "very-" * 60 + "long-step-name"
UNICODE_RUN = "训练-ünïcødé-🚀"
MULTILINE = "step train failed:\nTraceback (most recent call last):\n  File \"train.py\", line 3\nValueError: bad <input>"


def odd_workflows() -> list[dict]:
    """Real inputs that are easy to draw badly: no steps, offloaded nodes, a very long and a Unicode name,
    a multi-line failure message, a pipeline that has never finished, malformed UI metadata."""
    empty = WorkflowBuilder(name="empty-run", namespace="ml").phase("Succeeded").event()
    offloaded = WorkflowBuilder(name="offloaded-run", namespace="ml")
    offloaded.obj["status"]["offloadNodeStatusVersion"] = "fnv:123"
    long_named = WorkflowBuilder(name="long-run", namespace="ml")
    long_named.node("long-step", "Succeeded", displayName=LONG_STEP)
    unicode = WorkflowBuilder(name=UNICODE_RUN, namespace="ml")
    unicode.node("uni-step", "Succeeded", displayName="шаг-β-✓")
    failed = WorkflowBuilder(name="multiline-run", namespace="ml")
    failed.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "multiline-pipe"
    failed.node("multiline-run", "Failed", type="DAG", message=MULTILINE)
    failed.node("train", "Failed", parent="multiline-run", message=MULTILINE)
    failed.obj["status"]["message"] = MULTILINE
    unfinished = WorkflowBuilder(name="never-done-run", namespace="ml")
    unfinished.obj["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] = "never-done"
    unfinished.node("never-done-step", "Running")
    # Argo said Succeeded but never when: its duration is unknown, not still counting.
    untimed = WorkflowBuilder(name="untimed-run", namespace="ml").phase("Running").phase("Succeeded").event()
    del untimed["object"]["status"]["finishedAt"]
    return [empty, offloaded.phase("Running").event(), long_named.phase("Succeeded").event(),
            unicode.phase("Succeeded").event(), failed.phase("Failed").event(), unfinished.phase("Running").event(),
            untimed, kfp_step_workflow("bad-ui", {"mlpipeline-ui-metadata": "runs/bad-ui/ui.tgz"})]


STEP_LOG = "epoch 1: loss 0.9\nepoch 2: loss 0.4 <script>alert(3)</script>\n"


def logged_workflow() -> dict:
    """A step whose log Argo archived to S3 (archiveLogs), and one whose archived log is not there."""
    wf = WorkflowBuilder(name="logged-run", namespace="ml")
    for node_id in ("logged-step", "lost-log-step"):
        wf.node(node_id, "Succeeded", outputs=archived_log(f"runs/logged/{node_id}/main.log", bucket="mlpipeline"))
    return wf.phase("Succeeded").event()


def oom_killed() -> tuple[dict, dict]:
    """A failed step and the pod that says why: OOMKilled, exit code 137, after two restarts."""
    wf = WorkflowBuilder(name="oom-run", namespace="ml")
    wf.node("oom-step", "Failed", message="OOMKilled (exit code 137)")
    pod = pod_of(wf, "oom-step", resource_version="900", restarts=2)
    pod["spec"]["containers"][0]["image"] = "ghcr.io/acme/trainer:1.4"
    pod["status"] = {"phase": "Failed", "containerStatuses": [{"name": "main", "restartCount": 2, "state": {"terminated": {
        "exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:01:10Z"}}}]}
    return wf.phase("Failed").event(), {"type": "MODIFIED", "object": pod}


async def _seed_ui(dsn: str, moto: MotoServer, settings: Settings) -> None:
    async with S3Objects(moto.url) as objects:
        await objects.put("mlpipeline", "runs/report/ui.tgz", argo_tgz("ui.json", json.dumps(UI_METADATA).encode()))
        await objects.put("mlpipeline", "runs/logged/logged-step/main.log", STEP_LOG.encode())
        await objects.put("mlpipeline", "runs/bad-ui/ui.tgz", argo_tgz("ui.json", b'{"outputs": [{"type": "markdown",'))
    oom_run, oom_pod = oom_killed()
    events = [kfp_step_workflow("report", {"mlpipeline-ui-metadata": "runs/report/ui.tgz"}), _xss_workflow(),
              *_tenant_runs(), fanout_workflow(), oom_run, *odd_workflows(), logged_workflow()]  # fmt: skip
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        await ingest(pool, settings, events, pods=[oom_pod])
        await index_everything(pool, settings)
    finally:
        await pool.close()


@contextlib.contextmanager
def ui_server(*, server_uri: str, template: str, moto: MotoServer, tmp_path: Path) -> Iterator[UiServer]:
    moto.reset()
    thread = LoopThread()
    try:
        dsn = thread.run(create_database(server_uri, template=template))
        settings = s3_settings(SimpleNamespace(url=moto.url), tmp_path)
        thread.run(seed_api_data(dsn, moto, tmp_path))
        thread.run(_seed_ui(dsn, moto, settings), timeout=300)
        authed = settings.updated(auth={"mode": "static", "static_tokens": SecretStr(json.dumps(TOKENS))})

        async def start() -> tuple[asyncpg.Pool, list[web.AppRunner]]:
            pool = await db.create_pool(dsn, database=settings.database)
            runners = []
            for app_settings in (settings, authed):
                runner = web.AppRunner(build_app(settings=app_settings, pool=pool), access_log=None)
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                runners.append(runner)
            return pool, runners

        async def stop(pool: asyncpg.Pool, runners: list[web.AppRunner]) -> None:
            for runner in runners:
                await runner.cleanup()
            await pool.close()

        pool, runners = thread.run(start())
        try:
            rows = thread.run(pool.fetch("SELECT id, name FROM runs"))
            base, auth_base = (f"http://{r.addresses[0][0]}:{r.addresses[0][1]}" for r in runners)
            yield UiServer(base=base, auth_base=auth_base, runs={r["name"]: r["id"] for r in rows}, thread=thread,
                           pool=pool, settings=settings)  # fmt: skip
        finally:
            thread.run(stop(pool, runners))
    finally:
        thread.close()
