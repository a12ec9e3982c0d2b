"""Write side for pod observations: what a pod adds to its step (image, exit code, OOMKilled...).

Rows are keyed by (run id, node id) and written whether or not the run is stored yet, so a pod
seen before its workflow simply waits in the table until the step it belongs to appears.

The run id is the uid a pod's owner reference names, which any tenant can write: a pod whose
namespace/workflow is not that of the stored run (or, before the run, of the pod first stored for
the node) is refused and logged.
"""

from __future__ import annotations

import logging

import asyncpg
import orjson

from runledger.core.run_state import PodObservation
from runledger.store.rollups import rollups_kept
from runledger.store.sql_blocks import q
from runledger.store.writer import affected, fingerprint

log = logging.getLogger(__name__)


async def write_pods(conn: asyncpg.Connection, pods: list[PodObservation]) -> tuple[int, int]:
    """Upsert pod observations; returns the number of rows changed and of pods refused (another owner's)."""
    pods, refused = await _without_foreign(conn, pods)
    if not pods:
        return 0, refused
    cols: list[list] = [[] for _ in range(20)]
    for pod in pods:
        requests = orjson.dumps(pod.requests, option=orjson.OPT_SORT_KEYS).decode()
        limits = orjson.dumps(pod.limits, option=orjson.OPT_SORT_KEYS).decode()
        row = (
            pod.run_id, pod.node_id, pod.namespace, pod.workflow_name, pod.pod_name, pod.pod_uid, pod.phase,
            pod.host_node, pod.image, pod.exit_code, pod.termination_reason, pod.restart_count, requests, limits,
            pod.scheduled_at, pod.started_at, pod.finished_at,
        )  # fmt: skip
        full = (*row, pod.resource_version, pod.deleted, fingerprint(*row, pod.deleted))
        for col, value in zip(cols, full, strict=True):
            col.append(value)
    # A pod says why its run's step failed, and how long it queued.
    async with rollups_kept(conn, cols[0], steps=list(zip(cols[0], cols[1], strict=True))):
        written = affected(await conn.execute(q("upsert_step_pods"), *cols))
    return written, refused


async def _without_foreign(conn: asyncpg.Connection, pods: list[PodObservation]) -> tuple[list[PodObservation], int]:
    if not pods:
        return pods, 0
    columns = [[p.run_id for p in pods], [p.node_id for p in pods], [p.namespace for p in pods],
               [p.workflow_name for p in pods]]  # fmt: skip
    foreign = {r["i"] - 1: r["owner"] for r in await conn.fetch(q("find_pod_owner_conflicts"), *columns)}
    for i, owner in foreign.items():
        pod = pods[i]
        log.warning("refused pod %s/%s: uid %s belongs to %s, not %s/%s",
                    pod.namespace, pod.pod_name, pod.run_id, owner, pod.namespace, pod.workflow_name)  # fmt: skip
    return [p for i, p in enumerate(pods) if i not in foreign], len(foreign)
