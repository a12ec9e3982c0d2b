"""Deterministic synthetic Workflow watch events, for the demo recording and for benchmarks.

Why synthetic: recordings of a real cluster are large, hold other people's data and cannot be
regenerated at a chosen size. This module produces the same shapes instead, modelled on real
objects written by Argo and Kubeflow Pipelines (see ``tests/fixtures``):

* every event is ``{"type": "ADDED"|"MODIFIED"|"DELETED", "object": <Workflow>}`` carrying the
  FULL object, as a Kubernetes watch does; ``metadata.resourceVersion`` is one counter for the
  whole stream (etcd revision semantics), so it strictly increases event after event;
* node ids are ``<workflow>-<fnv32a(node name)>`` and pod names (v2 format)
  ``<workflow>-<template>-<fnv32a(node name)>``, exactly Argo's scheme, so log keys, pod names and
  node ids agree the way they do on a cluster;
* a run is a KFP v1 style DAG: root DAG node -> tasks -> dependents, one task wrapped in a Retry
  node (Retry -> attempts; dependents hang off the last attempt, as Argo links them), output
  parameters and data artifacts handed to the next task, KFP metrics/ui-metadata on the last
  training-like task, key-only s3 locations resolved through ``status.artifactRepositoryRef``;
* a failed run stops scheduling (fail-fast) and records the dependents of the failed task as
  Omitted nodes; a few runs are deleted (some while still running); some read an artifact an
  earlier run wrote, so lineage crosses runs.

Runs are simulated as generators that mutate one object each and pause at each write the
controller would make; an interleaver keeps up to ``interleave`` of them in flight and advances a
shared clock, so timestamps of the whole stream move forward together like a cluster's would.
All randomness comes from ``random.Random(seed)`` and objects are plain JSON, so a seed always
gives byte-identical output.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import random
import sys
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

DEFAULT_START = datetime(2025, 3, 3, 9, 0, 0, tzinfo=timezone.utc)
DEFAULT_NAMESPACES: tuple[str, ...] = ("team-a", "team-b")
DEFAULT_PIPELINES: tuple[str, ...] = ("xgboost-training", "churn-model", "etl-daily")

_FIRST_RESOURCE_VERSION = 100_000
_FANOUT_WAVE = 250
_KEY_FORMAT = "artifacts/{{workflow.name}}/{{pod.name}}"
# Kubernetes' generateName alphabet (k8s.io/apimachinery/pkg/util/rand): no vowels, no 0/1/3.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_EVENT_GAPS_SECONDS = (0, 1, 1, 1, 2, 2, 3, 5, 8)
_STEP_NAMES = {
    "xgboost-training": (
        "load-data", "validate-data", "transform", "train", "evaluate",
        "batch-predict", "confusion-matrix", "roc", "deploy",
    ),
    "churn-model": ("extract-features", "clean", "split", "train", "evaluate", "register-model", "publish"),
    "etl-daily": ("extract", "validate", "transform", "load", "aggregate", "export-report"),
}  # fmt: skip
_IMAGES = ("python:3.11-slim", "ghcr.io/acme/ml-steps:1.4.2", "ghcr.io/acme/xgboost:2.0.3")
_DATASETS = ("customers", "transactions", "clickstream", "newsgroups", "churn-events")


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def generate_events(
    *,
    runs: int,
    nodes_per_run: int = 10,
    seed: int = 0,
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES,
    pipelines: tuple[str, ...] = DEFAULT_PIPELINES,
    start: datetime = DEFAULT_START,
    fail_rate: float = 0.15,
    interleave: int = 50,
) -> Iterator[dict[str, Any]]:
    """Watch events of `runs` KFP-style DAG runs, interleaved like a busy cluster's stream."""
    if runs < 0 or nodes_per_run < 1 or interleave < 1 or not namespaces or not pipelines:
        raise ValueError("runs >= 0, nodes_per_run >= 1, interleave >= 1 and non-empty names are required")
    cluster = _Cluster(random.Random(seed), start)
    waiting = runs
    active: list[Iterator[tuple[str, dict[str, Any]]]] = []
    while waiting or active:
        can_admit = waiting > 0 and len(active) < interleave
        # A newcomer is one more choice among the runs in flight, so runs start staggered.
        pick = cluster.rng.randrange(len(active) + can_admit)
        if pick == len(active):
            waiting -= 1
            active.append(_dag_run(cluster, nodes_per_run, namespaces, pipelines, fail_rate))
        cluster.tick()
        emitted = next(active[pick], None)
        if emitted is None:
            active.pop(pick)
            continue
        yield cluster.event(*emitted)


def fanout_events(*, nodes: int = 5000, seed: int = 0, start: datetime = DEFAULT_START) -> Iterator[dict[str, Any]]:
    """One Steps run fanning out `nodes` Pods (withItems); pods change phase ~250 at a time."""
    if nodes < 1:
        raise ValueError("nodes must be >= 1")
    cluster = _Cluster(random.Random(seed), start)
    for kind, obj in _fanout_run(cluster, nodes):
        cluster.tick()
        yield cluster.event(kind, obj)


def count_node_changes(events: Iterable[dict[str, Any]]) -> int:
    """(node, phase) changes across a stream: nodes new or with another phase than in the
    previous event of the same run. What an agent writing one row per change would write."""
    last: dict[str, dict[str, str]] = {}
    changes = 0
    for event in events:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        run_key = meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"
        before = last.get(run_key, {})
        nodes = (obj.get("status") or {}).get("nodes") or {}
        now = {node_id: (node or {}).get("phase") or "" for node_id, node in nodes.items()}
        changes += sum(1 for nid, phase in now.items() if before.get(nid) != phase)
        last[run_key] = now
    return changes


def write_recording(path: Path, events: Iterable[dict[str, Any]]) -> int:
    """Write events as gzip'd JSON lines; byte-identical for identical events. Returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    # mtime=0 and an empty stored file name keep the gzip header free of time and path.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workflow_events", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runledger/demo/recording.jsonl.gz"))
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--nodes-per-run", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail-rate", type=float, default=0.15)
    parser.add_argument("--interleave", type=int, default=50)
    parser.add_argument("--fanout", type=int, metavar="NODES", help="write one fan-out run of NODES pods instead")
    args = parser.parse_args(argv)
    if args.fanout:
        events: Iterable[dict[str, Any]] = fanout_events(nodes=args.fanout, seed=args.seed)
    else:
        events = generate_events(
            runs=args.runs,
            nodes_per_run=args.nodes_per_run,
            seed=args.seed,
            fail_rate=args.fail_rate,
            interleave=args.interleave,
        )
    count = write_recording(args.out, events)
    print(f"{args.out}: {count} events, {args.out.stat().st_size} bytes", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# shared machinery
# --------------------------------------------------------------------------------------------


class _Cluster:
    """What runs of one stream share: the RNG, the clock, the etcd revision and the artifacts
    written so far (so a later run can read one)."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.now = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
        self.revision = itertools.count(_FIRST_RESOURCE_VERSION)
        self.produced_keys: list[str] = []
        self.names: set[str] = set()
        self.schedule_index: dict[str, int] = {}
        self.hosts = tuple(f"ip-10-0-{rng.randrange(256)}-{rng.randrange(1, 255)}.ec2.internal" for _ in range(6))

    def tick(self) -> None:
        self.now += timedelta(seconds=self.rng.choice(_EVENT_GAPS_SECONDS))

    def stamp(self) -> str:
        return _rfc3339(self.now)

    def event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        # A copy per event: consumers may keep or mutate what they receive, and later writes to
        # the simulated object must not reach back into events already handed out.
        copy = orjson.loads(orjson.dumps(obj))
        copy["metadata"]["resourceVersion"] = str(next(self.revision))
        return {"type": kind, "object": copy}

    def unique_name(self, rng: random.Random, generate_name: str) -> str:
        while True:
            name = generate_name + "".join(rng.choice(_NAME_ALPHABET) for _ in range(5))
            if name not in self.names:
                self.names.add(name)
                return name


class _Workflow:
    """One Workflow object being written by a simulated controller."""

    def __init__(self, cluster: _Cluster, rng: random.Random, obj: dict[str, Any]) -> None:
        self.cluster = cluster
        self.rng = rng
        self.obj = obj
        self.name: str = obj["metadata"]["name"]
        self.outbound: dict[str, str] = {}  # task name -> node its dependents hang off
        self._ids: dict[str, str] = {}  # node id -> node name, to keep ids unique

    @property
    def status(self) -> dict[str, Any]:
        return self.obj["status"]

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self.status.setdefault("nodes", {})

    def node_id(self, node_name: str) -> str:
        node_id = f"{self.name}-{_fnv32a(node_name)}"
        salt = itertools.count(1)
        while self._ids.get(node_id, node_name) != node_name:
            # A 32-bit hash collision (Argo would clash here); deterministic re-hash instead.
            node_id = f"{self.name}-{_fnv32a(f'{node_name}#{next(salt)}')}"
        self._ids[node_id] = node_name
        return node_id

    def pod_name(self, node_name: str, template: str) -> str:
        return f"{self.name}-{template}-{_fnv32a(node_name)}"

    def log_key(self, pod: str, file: str) -> str:
        return f"artifacts/{self.name}/{pod}/{file}"

    def add_node(self, node: dict[str, Any], parents: Iterable[str]) -> str:
        node_id = node["id"]
        self.nodes[node_id] = node
        for parent in parents:
            self.nodes[parent].setdefault("children", []).append(node_id)
        return node_id

    def start(self, root_type: str, template: str) -> None:
        """First reconcile: the controller takes the workflow, creates the root node."""
        now = self.cluster.stamp()
        self.status.update(
            phase="Running",
            startedAt=self.status.get("startedAt") or now,
            finishedAt=None,
            progress="0/0",
            artifactRepositoryRef=_artifact_repository_ref(self.obj["metadata"]["namespace"]),
            artifactGCStatus={"notSpecified": True},
            conditions=[{"status": "True", "type": "PodRunning"}],
        )
        self.obj["metadata"]["labels"]["workflows.argoproj.io/completed"] = "false"
        self.add_node(
            {
                "id": self.name,
                "name": self.name,
                "displayName": self.name,
                "type": root_type,
                "templateName": template,
                "templateScope": f"local/{self.name}",
                "phase": "Running",
                "startedAt": now,
                "finishedAt": None,
            },
            (),
        )

    def new_node(
        self, node_name: str, display: str, node_type: str, phase: str, template: str | None
    ) -> dict[str, Any]:
        node: dict[str, Any] = {
            "id": self.node_id(node_name),
            "name": node_name,
            "displayName": display,
            "type": node_type,
            "phase": phase,
            "boundaryID": self.name,
            "templateScope": f"local/{self.name}",
            "startedAt": self.cluster.stamp(),
            "finishedAt": None,
        }
        if template:
            node["templateName"] = template
        return node

    def run_pod(self, node_id: str) -> None:
        node = self.nodes[node_id]
        node["phase"] = "Running"
        node["hostNodeName"] = self.rng.choice(self.cluster.hosts)

    def end_node(self, node_id: str, phase: str, message: str | None = None) -> None:
        node = self.nodes[node_id]
        node["phase"] = phase
        node["finishedAt"] = self.cluster.stamp()
        if message:
            node["message"] = message
        if node["type"] == "Pod":
            seconds = max(1, int((_parse(node["finishedAt"]) - _parse(node["startedAt"])).total_seconds()))
            node["resourcesDuration"] = {"cpu": seconds // 2 + 1, "memory": seconds * 3}
            node["taskResultSynced"] = True

    def finish(self, phase: str, message: str | None, outbound: list[str]) -> None:
        now = self.cluster.stamp()
        root = self.nodes[self.name]
        root.update(phase=phase, finishedAt=now, outboundNodes=outbound)
        self.status.update(phase=phase, finishedAt=now)
        if message:
            root["message"] = message
            self.status["message"] = message
        pods = [n for n in self.nodes.values() if n["type"] == "Pod"]
        self.status["resourcesDuration"] = {
            "cpu": sum(n.get("resourcesDuration", {}).get("cpu", 0) for n in pods),
            "memory": sum(n.get("resourcesDuration", {}).get("memory", 0) for n in pods),
        }
        self.status["conditions"] = [{"status": "False", "type": "PodRunning"}, {"status": "True", "type": "Completed"}]
        self.obj["metadata"]["labels"]["workflows.argoproj.io/completed"] = "true"

    def touch(self) -> None:
        """What changes on every write: generation (no status subresource), phase label, progress."""
        meta = self.obj["metadata"]
        meta["generation"] = meta.get("generation", 0) + 1
        meta["labels"]["workflows.argoproj.io/phase"] = self.status.get("phase") or "Pending"
        if self.status.get("nodes"):
            self._refresh_progress()

    def _refresh_progress(self) -> None:
        # Argo's progress: succeeded pods / pods, rolled up from each pod into its parents.
        done = total = 0
        for node in self.nodes.values():
            if node["type"] == "Pod":
                ok = int(node["phase"] == "Succeeded")
                node["progress"] = f"{ok}/1"
                done, total = done + ok, total + 1
            elif node["type"] == "Retry":
                kids = [self.nodes[c] for c in node.get("children", ())]
                node["progress"] = f"{sum(k['phase'] == 'Succeeded' for k in kids)}/{len(kids)}"
        progress = f"{done}/{total}"
        self.nodes[self.name]["progress"] = progress
        self.status["progress"] = progress
        for node in self.nodes.values():
            if node["type"] == "StepGroup":
                node["progress"] = progress


def _run_events(
    wf: _Workflow, script: Iterator[str], delete_after: int | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Drive a run's script; `delete_after` events in (if set) the workflow is deleted."""
    for count, kind in enumerate(script, start=1):
        wf.touch()
        yield kind, wf.obj
        if delete_after is not None and count >= delete_after:
            break
    if delete_after is not None:
        # The DELETED event carries the last state; the API server gives it a new revision.
        yield "DELETED", wf.obj


# --------------------------------------------------------------------------------------------
# DAG runs (generate_events)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    name: str
    depends: tuple[str, ...]
    retry: bool
    outcomes: tuple[str, ...]  # one phase per attempt
    metrics: bool  # emits KFP mlpipeline-metrics / mlpipeline-ui-metadata
    upstream_key: str | None = None  # s3 key written by an earlier run, read as an input


@dataclass
class _Plan:
    pipeline: str
    tasks: list[_Task]
    params: dict[str, str]
    dependents: dict[str, list[str]] = field(default_factory=dict)


def _dag_run(
    cluster: _Cluster, nodes_per_run: int, namespaces: tuple[str, ...], pipelines: tuple[str, ...], fail_rate: float
) -> Iterator[tuple[str, dict[str, Any]]]:
    # Each run has its own RNG so its content does not depend on how it is interleaved.
    rng = random.Random(cluster.rng.getrandbits(64))
    pipeline = rng.choice(pipelines)
    plan = _plan_run(rng, cluster, pipeline, nodes_per_run, fail_rate)
    obj = _new_workflow(cluster, rng, rng.choice(namespaces), plan)
    wf = _Workflow(cluster, rng, obj)
    return _run_events(wf, _dag_script(wf, plan), _deletion_point(rng, len(plan.tasks)))


def _deletion_point(rng: random.Random, tasks: int) -> int | None:
    if rng.random() >= 0.05:
        return None
    # Half of the deletions are users removing a run while it still runs.
    return rng.randint(2, 3 * tasks) if rng.random() < 0.5 else sys.maxsize


def _plan_run(rng: random.Random, cluster: _Cluster, pipeline: str, nodes_per_run: int, fail_rate: float) -> _Plan:
    names = _step_names(pipeline, max(2, nodes_per_run - 2))  # root + Retry wrapper come on top
    depends = _dependencies(rng, len(names))
    retry_at = rng.randrange(len(names))
    fail_at = rng.randrange(len(names)) if rng.random() < fail_rate else None
    trainers = [i for i, n in enumerate(names) if "train" in n or "evaluate" in n]
    metrics_at = trainers[-1] if trainers else len(names) - 1
    upstream = rng.choice(cluster.produced_keys) if cluster.produced_keys and rng.random() < 0.1 else None
    tasks = []
    for i, name in enumerate(names):
        retry = i == retry_at
        if i == fail_at:
            outcomes = ("Failed", "Failed") if retry else ("Failed",)
        elif retry and rng.random() < 0.35:
            outcomes = ("Failed", "Succeeded")
        else:
            outcomes = ("Succeeded",)
        deps = tuple(names[d] for d in depends[i])
        tasks.append(_Task(name, deps, retry, outcomes, i == metrics_at, upstream if i == 0 else None))
    plan = _Plan(pipeline, tasks, _run_parameters(rng))
    for task in tasks:
        for dep in task.depends:
            plan.dependents.setdefault(dep, []).append(task.name)
    return plan


def _step_names(pipeline: str, count: int) -> list[str]:
    known = list(_STEP_NAMES.get(pipeline, ()))
    return (known + [f"stage-{i}" for i in range(len(known) + 1, count + 1)])[:count]


def _dependencies(rng: random.Random, count: int) -> list[tuple[int, ...]]:
    """A chain with occasional forks (a task next to its predecessor) that may join again."""
    deps: list[tuple[int, ...]] = [()]
    for i in range(1, count):
        forked = deps[-1] == (i - 3,)
        if forked and rng.random() < 0.6:
            deps.append((i - 2, i - 1))  # join: a diamond
        elif i >= 2 and not forked and rng.random() < 0.2:
            deps.append((i - 2,))  # fork: runs beside task i-1
        else:
            deps.append((i - 1,))
    return deps


def _run_parameters(rng: random.Random) -> dict[str, str]:
    day = DEFAULT_START.date() - timedelta(days=rng.randrange(60))
    return {
        "lr": rng.choice(("0.001", "0.003", "0.01", "0.03", "0.1")),
        "epochs": str(rng.choice((5, 10, 20, 30, 50))),
        "dataset": f"s3://datasets/{rng.choice(_DATASETS)}/{day.isoformat()}.parquet",
    }


def _new_workflow(cluster: _Cluster, rng: random.Random, namespace: str, plan: _Plan) -> dict[str, Any]:
    """The object as the KFP API server creates it: named, not yet touched by the controller."""
    generate_name = f"{plan.pipeline}-"
    name = cluster.unique_name(rng, generate_name)
    now = cluster.stamp()
    labels = {
        "pipeline/runid": _uuid4(rng),
        "pipelines.kubeflow.org/kfp_sdk_version": "1.8.22",
        "workflows.argoproj.io/phase": "Pending",
    }
    metadata: dict[str, Any] = {
        "name": name,
        "generateName": generate_name,
        "namespace": namespace,
        "uid": _uuid4(rng),
        "resourceVersion": "",
        "generation": 0,
        "creationTimestamp": now,
        "labels": labels,
        "annotations": _kfp_annotations(rng, plan, name),
    }
    if rng.random() < 0.2:
        _mark_scheduled(cluster, metadata, namespace, plan.pipeline)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": metadata,
        "spec": _dag_spec(plan),
        "status": {"phase": "Pending", "startedAt": now, "finishedAt": None},
    }


def _kfp_annotations(rng: random.Random, plan: _Plan, name: str) -> dict[str, str]:
    spec = {
        "name": plan.pipeline,
        "description": f"{plan.pipeline} pipeline",
        "inputs": [{"name": k, "type": "String", "default": v} for k, v in plan.params.items()],
    }
    return {
        "pipelines.kubeflow.org/kfp_sdk_version": "1.8.22",
        "pipelines.kubeflow.org/pipeline_compilation_time": "2025-02-20T10:14:03.118207",
        "pipelines.kubeflow.org/pipeline_spec": orjson.dumps(spec).decode(),
        "pipelines.kubeflow.org/run_name": f"Run of {plan.pipeline} ({name[-5:]})",
        "workflows.argoproj.io/pod-name-format": "v2",
    }


def _mark_scheduled(cluster: _Cluster, metadata: dict[str, Any], namespace: str, pipeline: str) -> None:
    """Labels and owner a KFP ScheduledWorkflow puts on the runs it starts."""
    swf = f"{pipeline}-nightly"
    index = cluster.schedule_index[f"{namespace}/{swf}"] = cluster.schedule_index.get(f"{namespace}/{swf}", 0) + 1
    metadata["labels"].update(
        {
            "scheduledworkflows.kubeflow.org/isOwnedByScheduledWorkflow": "true",
            "scheduledworkflows.kubeflow.org/scheduledWorkflowName": swf,
            "scheduledworkflows.kubeflow.org/workflowEpoch": str(int(cluster.now.timestamp())),
            "scheduledworkflows.kubeflow.org/workflowIndex": str(index),
        }
    )
    metadata["ownerReferences"] = [
        {
            "apiVersion": "kubeflow.org/v1beta1",
            "kind": "ScheduledWorkflow",
            "name": swf,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"scheduledworkflow/{namespace}/{swf}")),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def _dag_spec(plan: _Plan) -> dict[str, Any]:
    dag_tasks = []
    for task in plan.tasks:
        entry: dict[str, Any] = {"name": task.name, "template": task.name, "arguments": _task_arguments(plan, task)}
        if task.depends:
            entry["dependencies"] = list(task.depends)
        dag_tasks.append(entry)
    entry_template = {
        "name": plan.pipeline,
        "dag": {"tasks": dag_tasks},
        "inputs": {"parameters": [{"name": k} for k in plan.params]},
        "metadata": {},
        "outputs": {},
    }
    return {
        "entrypoint": plan.pipeline,
        "arguments": {"parameters": [{"name": k, "value": v} for k, v in plan.params.items()]},
        "serviceAccountName": "pipeline-runner",
        "templates": [entry_template] + [_container_template(plan, t) for t in plan.tasks],
    }


def _task_arguments(plan: _Plan, task: _Task) -> dict[str, Any]:
    params = [{"name": p, "value": f"{{{{inputs.parameters.{p}}}}}"} for p in _run_inputs(plan, task)]
    params += [
        {"name": f"{d}-result", "value": f"{{{{tasks.{d}.outputs.parameters.{d}-result}}}}"} for d in task.depends
    ]
    artifacts = [{"name": f"{d}-data", "from": f"{{{{tasks.{d}.outputs.artifacts.{d}-data}}}}"} for d in task.depends]
    return {"parameters": params, "artifacts": artifacts} if artifacts else {"parameters": params}


def _run_inputs(plan: _Plan, task: _Task) -> list[str]:
    """Which run parameters a task reads: the first one the dataset, trainers lr and epochs."""
    names = ["dataset"] if task is plan.tasks[0] else []
    return names + (["lr", "epochs"] if task.metrics else [])


def _container_template(plan: _Plan, task: _Task) -> dict[str, Any]:
    inputs: dict[str, Any] = {"parameters": [{"name": p} for p in _run_inputs(plan, task)]}
    inputs["parameters"] += [{"name": f"{d}-result"} for d in task.depends]
    artifacts = [{"name": f"{d}-data", "path": f"/tmp/inputs/{d}-data"} for d in task.depends]
    if task.upstream_key:
        artifacts.append(_upstream_input(task.upstream_key))
    if artifacts:
        inputs["artifacts"] = artifacts
    outputs = {
        "parameters": [{"name": f"{task.name}-result", "valueFrom": {"path": "/tmp/outputs/result"}}],
        "artifacts": [{"name": f"{task.name}-data", "path": "/tmp/outputs/data"}] + _kfp_metric_outputs(task),
    }
    template: dict[str, Any] = {
        "name": task.name,
        "container": {
            "image": _IMAGES[_fnv32a(task.name) % len(_IMAGES)],
            "command": ["python", "-m", f"steps.{task.name.replace('-', '_')}"],
            "args": ["--inputs", "/tmp/inputs", "--outputs", "/tmp/outputs"],
            "resources": {},
        },
        "inputs": inputs,
        "outputs": outputs,
        "metadata": {"labels": {"pipelines.kubeflow.org/pipeline-sdk-type": "kfp"}},
    }
    if task.retry:
        template["retryStrategy"] = {"limit": 1, "retryPolicy": "Always"}
    return template


def _upstream_input(key: str) -> dict[str, Any]:
    """An input artifact at a fixed key: how a run reads what an earlier run wrote."""
    return {"name": "upstream-data", "path": "/tmp/inputs/upstream-data", "s3": {"key": key}}


def _kfp_metric_outputs(task: _Task) -> list[dict[str, Any]]:
    if not task.metrics:
        return []
    return [
        {"name": "mlpipeline-ui-metadata", "path": "/mlpipeline-ui-metadata.json"},
        {"name": "mlpipeline-metrics", "path": "/mlpipeline-metrics.json"},
    ]


def _dag_script(wf: _Workflow, plan: _Plan) -> Iterator[str]:
    """The writes Argo's controller makes to one DAG run, one yield per write."""
    yield "ADDED"
    wf.start("DAG", plan.pipeline)
    yield "MODIFIED"
    failed: _Task | None = None
    for task in plan.tasks:
        if not (yield from _run_task(wf, plan, task)):
            failed = task
            break
    if failed is None:
        wf.finish("Succeeded", None, _leaf_outbound(wf, plan))
    else:
        _omit_dependents(wf, plan, failed)
        failed_node = wf.node_id(f"{wf.name}.{failed.name}")
        wf.finish("Failed", f"child '{failed_node}' failed", _leaf_outbound(wf, plan))
    yield "MODIFIED"


def _run_task(wf: _Workflow, plan: _Plan, task: _Task) -> Generator[str, None, bool]:
    """Pending -> Running -> done for each attempt; True if the task succeeded."""
    parents = [wf.outbound[d] for d in task.depends] or [wf.name]
    node_name = f"{wf.name}.{task.name}"
    retry_id = None
    if task.retry:
        retry_id = wf.add_node(wf.new_node(node_name, task.name, "Retry", "Running", task.name), parents)
        parents = [retry_id]
    inputs = _node_inputs(wf, plan, task)
    for attempt, outcome in enumerate(task.outcomes):
        pod_node_name = f"{node_name}({attempt})" if task.retry else node_name
        pod = wf.new_node(pod_node_name, pod_node_name.removeprefix(f"{wf.name}."), "Pod", "Pending", task.name)
        pod["inputs"] = inputs
        pod_id = wf.add_node(pod, parents)
        yield "MODIFIED"
        wf.run_pod(pod_id)
        yield "MODIFIED"
        _complete_pod(wf, task, pod_id, outcome)
        last = attempt == len(task.outcomes) - 1
        if retry_id and last:
            _complete_retry(wf, retry_id, pod_id, outcome)
        wf.outbound[task.name] = pod_id
        yield "MODIFIED"
    return task.outcomes[-1] == "Succeeded"


def _node_inputs(wf: _Workflow, plan: _Plan, task: _Task) -> dict[str, Any]:
    """Resolved inputs: run parameters, and each dependency's output parameter and data artifact."""
    params = [{"name": p, "value": plan.params[p]} for p in _run_inputs(plan, task)]
    artifacts = []
    for dep in task.depends:
        outputs = wf.nodes[wf.outbound[dep]]["outputs"]
        params += [dict(p) for p in outputs["parameters"] if p["name"] == f"{dep}-result"]
        for art in outputs["artifacts"]:
            if art["name"] == f"{dep}-data":
                artifacts.append({"name": art["name"], "path": f"/tmp/inputs/{dep}-data", "s3": dict(art["s3"])})
    if task.upstream_key:
        artifacts.append(_upstream_input(task.upstream_key))
    for param in params:
        param.pop("valueFrom", None)
    inputs: dict[str, Any] = {"parameters": params}
    if artifacts:
        inputs["artifacts"] = artifacts
    return inputs


def _complete_pod(wf: _Workflow, task: _Task, pod_id: str, outcome: str) -> None:
    node = wf.nodes[pod_id]
    pod = wf.pod_name(node["name"], task.name)
    artifacts: list[dict[str, Any]] = []
    outputs: dict[str, Any] = {}
    if outcome == "Succeeded":
        data_key = wf.log_key(pod, f"{task.name}-data.tgz")
        outputs["parameters"] = [
            {
                "name": f"{task.name}-result",
                "value": _result_value(wf.rng, task),
                "valueFrom": {"path": "/tmp/outputs/result"},
            }
        ]
        artifacts.append({"name": f"{task.name}-data", "path": "/tmp/outputs/data", "s3": {"key": data_key}})
        if task.metrics:
            artifacts += [
                {"name": n, "path": f"/{n}.json", "s3": {"key": wf.log_key(pod, f"{n}.tgz")}}
                for n in ("mlpipeline-ui-metadata", "mlpipeline-metrics")
            ]
        wf.cluster.produced_keys.append(data_key)
    artifacts.append({"name": "main-logs", "s3": {"key": wf.log_key(pod, "main.log")}})
    outputs["artifacts"] = artifacts
    outputs["exitCode"] = "0" if outcome == "Succeeded" else "1"
    node["outputs"] = outputs
    wf.end_node(pod_id, outcome, None if outcome == "Succeeded" else "Error (exit code 1)")


def _complete_retry(wf: _Workflow, retry_id: str, pod_id: str, outcome: str) -> None:
    # Argo copies the last attempt's outputs onto the Retry node.
    wf.nodes[retry_id]["outputs"] = orjson.loads(orjson.dumps(wf.nodes[pod_id]["outputs"]))
    wf.end_node(retry_id, outcome, None if outcome == "Succeeded" else "No more retries left")


def _result_value(rng: random.Random, task: _Task) -> str:
    return f"{rng.uniform(0.78, 0.97):.4f}" if task.metrics else str(rng.randrange(1_000, 500_000))


def _omit_dependents(wf: _Workflow, plan: _Plan, failed: _Task) -> None:
    """Dependents of a failed task can never run: Argo records them as Omitted (type Skipped)."""
    doomed = {failed.name}
    for task in plan.tasks:
        if task.name in doomed or not set(task.depends) & doomed:
            continue
        doomed.add(task.name)
        parents = [wf.outbound[d] for d in task.depends if d in wf.outbound]
        node = wf.new_node(f"{wf.name}.{task.name}", task.name, "Skipped", "Omitted", task.name)
        node_id = wf.add_node(node, parents)
        wf.end_node(node_id, "Omitted", "omitted: depends condition not met")
        wf.outbound[task.name] = node_id


def _leaf_outbound(wf: _Workflow, plan: _Plan) -> list[str]:
    return [
        wf.outbound[t.name]
        for t in plan.tasks
        if t.name in wf.outbound and not any(d in wf.outbound for d in plan.dependents.get(t.name, ()))
    ]


def _artifact_repository_ref(namespace: str) -> dict[str, Any]:
    return {
        "configMap": "artifact-repositories",
        "key": "default-v1",
        "namespace": namespace,
        "artifactRepository": {
            "archiveLogs": True,
            "s3": {
                "bucket": "mlpipeline",
                "endpoint": "minio-service.kubeflow:9000",
                "insecure": True,
                "keyFormat": _KEY_FORMAT,
                "accessKeySecret": {"name": "mlpipeline-minio-artifact", "key": "accesskey"},
                "secretKeySecret": {"name": "mlpipeline-minio-artifact", "key": "secretkey"},
            },
        },
    }


# --------------------------------------------------------------------------------------------
# fan-out run (fanout_events)
# --------------------------------------------------------------------------------------------


def _fanout_run(cluster: _Cluster, count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    rng = random.Random(cluster.rng.getrandbits(64))
    items = [f"shard-{i:05d}" for i in range(count)]
    name = cluster.unique_name(rng, "fan-out-")
    now = cluster.stamp()
    obj: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": name,
            "generateName": "fan-out-",
            "namespace": "team-a",
            "uid": _uuid4(rng),
            "resourceVersion": "",
            "generation": 0,
            "creationTimestamp": now,
            "labels": {"workflows.argoproj.io/phase": "Pending"},
            "annotations": {"workflows.argoproj.io/pod-name-format": "v2"},
        },
        "spec": {
            "entrypoint": "fan-out",
            "arguments": {},
            "templates": [
                {"name": "fan-out", "steps": [[{"name": "work", "template": "work", "withItems": items,
                 "arguments": {"parameters": [{"name": "shard", "value": "{{item}}"}]}}]]},
                {"name": "work", "inputs": {"parameters": [{"name": "shard"}]},
                 "container": {"image": "alpine:3.20", "command": ["sh", "-c"],
                               "args": ["process {{inputs.parameters.shard}}"]}},
            ],
        },  # fmt: skip
        "status": {"phase": "Pending", "startedAt": now, "finishedAt": None},
    }
    wf = _Workflow(cluster, rng, obj)
    return _run_events(wf, _fanout_script(wf, items), None)


def _fanout_script(wf: _Workflow, items: list[str]) -> Iterator[str]:
    """Pods move in waves, pipelined: the next wave is created while the previous one runs."""
    yield "ADDED"
    wf.start("Steps", "fan-out")
    group = wf.add_node(wf.new_node(f"{wf.name}[0]", "[0]", "StepGroup", "Running", None), [wf.name])
    wf.nodes[group]["templateName"] = "fan-out"
    yield "MODIFIED"
    waves = [range(i, min(i + _FANOUT_WAVE, len(items))) for i in range(0, len(items), _FANOUT_WAVE)]
    pods: list[list[str]] = []
    for index, wave in enumerate(waves):
        pods.append([_create_fanout_pod(wf, group, i, items[i]) for i in wave])
        yield "MODIFIED"
        if index:
            _end_wave(wf, pods[index - 1])
            yield "MODIFIED"
        for pod_id in pods[index]:
            wf.run_pod(pod_id)
        yield "MODIFIED"
    _end_wave(wf, pods[-1])
    all_pods = [p for wave_pods in pods for p in wave_pods]
    wf.end_node(group, "Succeeded")
    wf.finish("Succeeded", None, all_pods)
    yield "MODIFIED"


def _create_fanout_pod(wf: _Workflow, group: str, index: int, item: str) -> str:
    display = f"work({index}:{item})"
    node = wf.new_node(f"{wf.name}[0].{display}", display, "Pod", "Pending", "work")
    node["inputs"] = {"parameters": [{"name": "shard", "value": item}]}
    return wf.add_node(node, [group])


def _end_wave(wf: _Workflow, pod_ids: list[str]) -> None:
    for pod_id in pod_ids:
        node = wf.nodes[pod_id]
        pod = wf.pod_name(node["name"], "work")
        logs = {"name": "main-logs", "s3": {"key": wf.log_key(pod, "main.log")}}
        node["outputs"] = {"artifacts": [logs], "exitCode": "0"}
        wf.end_node(pod_id, "Succeeded")


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _fnv32a(text: str) -> int:
    """FNV-1a 32-bit, the hash Argo uses for node ids and v2 pod names."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


if __name__ == "__main__":
    sys.exit(main())
