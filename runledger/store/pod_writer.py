"""Write side for pod observations: what a pod adds to its step (image, exit code, OOMKilled...).

Rows are keyed by (run id, node id) and written whether or not the run is stored yet, so a pod
seen before its workflow simply waits in the table until the step it belongs to appears.
"""

from __future__ import annotations

import asyncpg
import orjson

from runledger.core.models import PodObservation
from runledger.store.sql_blocks import q
from runledger.store.writer import fingerprint


async def write_pods(conn: asyncpg.Connection, pods: list[PodObservation]) -> int:
    """Upsert pod observations; returns the number of rows changed."""
    if not pods:
        return 0
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
    status = await conn.execute(q("upsert_step_pods"), *cols)
    return int(status.rsplit(" ", 1)[-1])
