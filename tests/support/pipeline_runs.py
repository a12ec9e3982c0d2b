"""Hand-built runs of one pipeline whose analytics are known: what failed and why, what waited, what it used."""

from __future__ import annotations

from typing import Any

from tests.support.builders import WorkflowBuilder, pod_of

PIPELINE = "train"
DAY = "2026-03-02"


def _run(name: str, *, namespace: str = "ml", created: str = "10:00:00") -> WorkflowBuilder:
    wf = WorkflowBuilder(name=name, namespace=namespace)
    meta = wf.obj["metadata"]
    meta["creationTimestamp"] = f"{DAY}T{created}Z"
    meta["labels"]["workflows.argoproj.io/workflow-template"] = PIPELINE
    return wf


def at(clock: str) -> str:
    return f"{DAY}T{clock}Z"


def crafted() -> tuple[list[WorkflowBuilder], list[dict[str, Any]]]:
    """Four runs of `train` in namespace ml (and one in `other`), and the pods of two of their steps.

    * ok: succeeded; started 30 s after creation, ran 100 s; its `fit` step retried once (flaky);
      resourcesDuration cpu 200, memory 1024 (100Mi-seconds), nvidia.com/gpu 50.
    * oom: failed; its `fit` step OOMKilled (Argo's message), 20 s.
    * evicted: failed; its `fit` step's pod was evicted (the pod says so, the node only "pod deleted").
    * slow: still running, its `prep` step succeeded in 4 s with a pod started 2 s after the node.
    * elsewhere: in namespace `other`, failed with exit code 3.
    """
    ok = _run("ok").phase("Running", at("10:00:30"))
    ok.obj["status"]["resourcesDuration"] = {"cpu": 200, "memory": 1024, "nvidia.com/gpu": 50}
    ok.node("ok", "Succeeded", type="DAG", templateName="main", at=at("10:02:10"))
    ok.node("ok-r", "Succeeded", parent="ok", type="Retry", templateName="fit", at=at("10:02:10"))
    ok.node("ok-1", "Failed", parent="ok-r", templateName="fit", startedAt=at("10:00:30"), at=at("10:01:00"),
            message="Error (exit code 1)")  # fmt: skip
    ok.node("ok-2", "Succeeded", parent="ok-r", templateName="fit", startedAt=at("10:01:00"), at=at("10:02:10"),
            resourcesDuration={"cpu": 70, "memory": 512})  # fmt: skip
    ok.phase("Succeeded", at("10:02:10"))

    oom = _run("oom", created="11:00:00").phase("Running", at("11:00:00"))
    oom.node("oom", "Failed", type="DAG", templateName="main", at=at("11:00:20"))
    oom.node("oom-1", "Failed", parent="oom", templateName="fit", startedAt=at("11:00:00"), at=at("11:00:20"),
             message="OOMKilled (exit code 137)")  # fmt: skip
    oom.phase("Failed", at("11:00:20"))
    oom.obj["status"]["message"] = "child 'oom-1' failed"

    evicted = _run("evicted", created="12:00:00").phase("Running", at("12:00:00"))
    evicted.node("ev", "Failed", type="DAG", templateName="main", at=at("12:00:40"))
    evicted.node("ev-1", "Failed", parent="ev", templateName="fit", startedAt=at("12:00:00"), at=at("12:00:40"),
                 message="pod deleted")  # fmt: skip
    evicted.phase("Failed", at("12:00:40"))

    slow = _run("slow", created="13:00:00").phase("Running", at("13:00:10"))
    slow.node("slow", "Running", type="DAG", templateName="main", at=at("13:00:10"))
    slow.node("slow-1", "Succeeded", parent="slow", templateName="prep", startedAt=at("13:00:10"), at=at("13:00:14"))

    elsewhere = _run("elsewhere", namespace="other", created="14:00:00").phase("Running", at("14:00:00"))
    elsewhere.node("el", "Failed", type="DAG", templateName="main", at=at("14:00:05"))
    elsewhere.node("el-1", "Failed", parent="el", templateName="fit", startedAt=at("14:00:00"), at=at("14:00:05"),
                   message="Error (exit code 3)", outputs={"exitCode": "3"})  # fmt: skip
    elsewhere.phase("Failed", at("14:00:05"))

    evicted_pod = pod_of(evicted, "ev-1", resource_version="900")
    evicted_pod["status"] = {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}
    prep_pod = pod_of(slow, "slow-1", resource_version="901")
    prep_pod["status"]["containerStatuses"][0]["state"] = {"terminated": {
        "exitCode": 0, "reason": "Completed", "startedAt": at("13:00:12"), "finishedAt": at("13:00:14")}}  # fmt: skip
    return [ok, oom, evicted, slow, elsewhere], [evicted_pod, prep_pod]
