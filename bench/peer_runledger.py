"""runledger's side of the peer benchmark: the dataset as Argo sees it, loaded and asked over HTTP.

Loading goes through the real ingest path: each run becomes the final state of an Argo Workflow
(KFP v1 style: a DAG node, one Pod node per step, S3 input/output artifacts, run arguments), written
as ADDED watch events to a JSON-lines file; the KFP metrics files, as Argo archives them, go to a
moto S3 server standing in for the artifact store. ``runledger run`` replays the file and indexes
the artifacts (the metrics come from the files, as on a cluster); the load ends when every run has
its accuracy and every artifact is indexed.

Questions are HTTP requests to that process' API, the JSON decoded. The API caps a lineage walk at
``lineage_graph.MAX_DEPTH`` hops; a deeper question is answered as a client would: walks from the
nodes at the edge of the previous one, until the hops are covered.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import aiohttp
import asyncpg
import orjson

from bench.peer_data import BUCKET, PIPELINE, Dataset, Run
from runledger.demo.recording_objects import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, DemoObject, argo_archive
from runledger.store.lineage_graph import MAX_DEPTH

ENDPOINT = "minio-service.kubeflow:9000"
LOAD_DEADLINE_SECONDS = 3600
LOADED = (
    "SELECT (SELECT count(*) FROM run_metrics WHERE name = 'accuracy') >= $1"
    " AND NOT EXISTS (SELECT 1 FROM artifact_queue)"
)


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _key(uri: str) -> str:
    return uri.removeprefix(f"s3://{BUCKET}/")


def _s3(name: str, uri: str, path: str) -> dict:
    return {
        "name": name,
        "path": path,
        "s3": {"bucket": BUCKET, "endpoint": ENDPOINT, "insecure": True, "key": _key(uri)},
    }


def workflow(run: Run, *, resource_version: int) -> dict:
    """The run's final Workflow object, as Argo's controller leaves it."""
    name = run.name
    ids = [f"{name}-{k + 1}" for k in range(len(run.steps))]
    nodes = {name: {"id": name, "name": name, "displayName": name, "type": "DAG", "templateName": PIPELINE,
                    "phase": "Succeeded", "startedAt": _ts(run.created + 1), "finishedAt": _ts(run.finished),
                    "children": ids[:1]}}  # fmt: skip
    for k, step in enumerate(run.steps):
        nodes[ids[k]] = {
            "id": ids[k], "name": f"{name}.{step.name}", "displayName": step.name, "type": "Pod",
            "templateName": step.name, "phase": "Succeeded", "boundaryID": name,
            "startedAt": _ts(step.started), "finishedAt": _ts(step.finished), "children": ids[k + 1 : k + 2],
            "inputs": {"artifacts": [_s3(n, uri, f"/tmp/inputs/{n}") for n, uri in step.inputs]},
            "outputs": {"artifacts": [_s3(n, uri, f"/tmp/outputs/{n}") for n, uri in step.outputs], "exitCode": "0"},
        }  # fmt: skip
    metadata = {
        "name": name, "namespace": "team-a", "uid": run.uid, "resourceVersion": str(resource_version),
        "creationTimestamp": _ts(run.created),
        "labels": {"workflows.argoproj.io/phase": "Succeeded", "workflows.argoproj.io/completed": "true",
                   "pipeline/runid": run.uid},
    }  # fmt: skip
    arguments = [{"name": k, "value": v} for k, v in run.params.items()]
    status = {"phase": "Succeeded", "startedAt": _ts(run.created + 1), "finishedAt": _ts(run.finished), "nodes": nodes}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata,
            "spec": {"entrypoint": PIPELINE, "arguments": {"parameters": arguments}}, "status": status}  # fmt: skip


def write_events(dataset: Dataset, path: Path) -> Path:
    with path.open("wb") as f:
        for i, run in enumerate(dataset.runs):
            f.write(orjson.dumps({"type": "ADDED", "object": workflow(run, resource_version=1000 + i)}) + b"\n")
    return path


def objects(dataset: Dataset) -> list[DemoObject]:
    """What the questions need from S3: the KFP metrics files (and the shared dataset versions).
    The other outputs are not uploaded, to keep the setup short: the indexer still checks each one,
    and records it missing, as it would after an artifact GC."""
    found = [DemoObject(BUCKET, _key(uri), argo_archive("data", b"v" * 64)) for uri in dataset.datasets]
    for run in dataset.runs:
        doc = {"metrics": [{"name": "accuracy", "numberValue": run.metrics["accuracy"], "format": "PERCENTAGE"},
                           {"name": "loss", "numberValue": run.metrics["loss"], "format": "RAW"}]}  # fmt: skip
        uri = dict(run.steps[-1].outputs)["mlpipeline-metrics"]
        found.append(DemoObject(BUCKET, _key(uri), argo_archive("mlpipeline-metrics.json", orjson.dumps(doc))))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runledger:
    """`runledger run` in a child process, replaying `events` into `dsn`, indexing from `s3_url`."""

    def __init__(self, *, dsn: str, events: Path, s3_url: str, log: Path) -> None:
        self.dsn, self.events, self.s3_url, self.log = dsn, events, s3_url, log
        self.base = f"http://127.0.0.1:{_free_port()}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNLEDGER_", "KUBE"))}
        env |= {
            "RUNLEDGER_DATABASE_URL": self.dsn, "RUNLEDGER_REPLAY_FILES": str(self.events),
            "RUNLEDGER_ARTIFACTS_ENDPOINT_MAP": orjson.dumps({ENDPOINT: self.s3_url}).decode(),
            "RUNLEDGER_ARTIFACTS_ACCESS_KEY_ID": DEMO_ACCESS_KEY, "RUNLEDGER_ARTIFACTS_SECRET_ACCESS_KEY": DEMO_SECRET_KEY,
            "RUNLEDGER_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        port = self.base.rsplit(":", 1)[1]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "runledger", "run", "--host", "127.0.0.1", "--port", port],
                env=env, stdout=log, stderr=log,
            )  # fmt: skip

    async def loaded(self, *, runs: int) -> float:
        """Returns when every run is stored with its accuracy (replayed, its metrics file indexed) and
        every artifact is indexed (the indexer no longer shares the process' CPU with the API); the
        seconds it took the runs alone to be stored (the replay, before the indexer caught up)."""
        deadline = time.monotonic() + LOAD_DEADLINE_SECONDS
        conn = None
        started, stored = time.perf_counter(), None
        try:
            while True:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"runledger run exited during the load (see {self.log})")
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"runledger did not finish loading in {LOAD_DEADLINE_SECONDS} s (see {self.log})"
                    )
                try:
                    conn = conn or await asyncpg.connect(self.dsn)
                    if stored is None and await conn.fetchval("SELECT count(*) FROM runs") >= runs:
                        stored = time.perf_counter() - started
                    if await conn.fetchval(LOADED, runs):
                        return stored if stored is not None else time.perf_counter() - started
                except (OSError, asyncpg.PostgresError):
                    pass  # the schema is created by the process itself: not there yet
                await asyncio.sleep(0.5)
        finally:
            if conn is not None:
                await conn.close()

    def peak_rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the questions, over HTTP ---------------------------------------------------------------------


def answerer(session: aiohttp.ClientSession, base: str, question: dict) -> Callable[[], Awaitable[list[str]]]:
    api, limit = f"{base}/api/v1", question["limit"]
    if question["id"].startswith("lineage_"):
        return lambda: lineage(session, api, root=f"artifact:{question['uri']}", hops=question["hops"])
    query = [f"limit={limit}"]
    if "optimizer" in question:
        query.append(f"param.optimizer={question['optimizer']}")
    if "accuracy_above" in question:
        query.append(f"metric.accuracy%3E{question['accuracy_above']}")
    if question["id"] == "by_accuracy":
        query.append("sort=-metric.accuracy")
    url = f"{api}/runs?{'&'.join(query)}"

    async def runs() -> list[str]:
        return [r["name"] for r in (await _get(session, url))["runs"]]

    return runs


async def _get(session: aiohttp.ClientSession, url: str) -> dict:
    async with session.get(url) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {url}: {resp.status} {body[:200]!r}")
        return orjson.loads(body)


async def lineage(session: aiohttp.ClientSession, api: str, *, root: str, hops: int) -> list[str]:
    """Upstream nodes within `hops` of `root`, as artifact URIs and run/step names; walks of at most
    MAX_DEPTH hops, each next one from the nodes exactly at the previous horizon."""
    distance: dict[str, int] = {}
    names: dict[str, str] = {}
    starts, horizon = [root], 0
    while starts and horizon < hops:
        depth = min(MAX_DEPTH, hops - horizon)
        for start in starts:
            graph = await _get(
                session, f"{api}/lineage?node={quote(start, safe='')}&direction=upstream&depth={depth}&limit=2000"
            )
            if graph["truncated"]:
                raise RuntimeError(f"lineage from {start} was truncated at 2000 nodes")
            for node in graph["nodes"]:
                d = horizon + node["depth"]
                if d < distance.get(node["id"], hops + 1):
                    distance[node["id"]] = d
                    names[node["id"]] = (
                        node["uri"] if node["kind"] == "artifact" else f"{node['run_name']}/{node['display_name']}"
                    )
        horizon += depth
        starts = [node for node, d in distance.items() if d == horizon]
    return list(names.values())
