"""Every read endpoint is answered by the hot standbys while they are recent, spread over both; none
fails while one of them is down, and /readyz and /metrics show each target's state and share."""

from __future__ import annotations

import re
import uuid

import pytest

from runledger.core.settings import DatabaseSettings, Settings
from runledger.store import connection as db
from tests.support.builders import WorkflowBuilder
from tests.support.http import serve
from tests.support.ingesting import ingest
from tests.support.waiting import eventually

pytestmark = pytest.mark.replicas


@pytest.fixture
def replica_settings(replica_cluster, tmp_path) -> Settings:
    return Settings(database=DatabaseSettings(data_dir=tmp_path, pool_max=4, replica_max_lag_seconds=5.0, replica_urls=",".join(s.uri() for s in replica_cluster.standbys)))  # fmt: skip


async def seed(replica_cluster, settings: Settings) -> str:
    """One run with a step and an artifact, stored on the primary; its id."""
    wf = WorkflowBuilder(name=f"wf-{uuid.uuid4().hex[:8]}", namespace="team-a")
    wf.phase("Succeeded").node("root", "Succeeded", type="DAG")
    wf.node("a", "Succeeded", parent="root", outputs={"artifacts": [{"name": "model", "s3": {"bucket": "b", "key": "m"}}]})
    pool = await db.create_pool(replica_cluster.primary.uri(), database=settings.database)
    try:
        await ingest(pool, settings, [wf.event("ADDED")])
    finally:
        await pool.close()
    await replica_cluster.wait_caught_up()
    return wf.obj["metadata"]["uid"]


def endpoints(run_id: str) -> list[str]:
    return [
        "/api/v1/runs", f"/api/v1/runs/{run_id}", f"/api/v1/runs/{run_id}/steps", f"/api/v1/runs/{run_id}/timeline",
        f"/api/v1/runs/{run_id}/metrics", f"/api/v1/runs/compare?ids={run_id}", "/api/v1/artifacts",
        f"/api/v1/lineage?node=run:{run_id}", "/apis/v1beta1/runs", "/apis/v2beta1/runs",
        f"/apis/v2beta1/runs/{run_id}", f"/apis/v1beta1/runs/{run_id}", "/api/v1/stats/pipelines",
    ]  # fmt: skip


async def all_answer(api, paths: list[str]) -> None:
    for path in paths:
        async with api.get(path) as resp:
            assert resp.status == 200, (path, resp.status, await resp.text())


async def reads_by_role(api) -> dict[str, float]:
    async with api.get("/metrics") as resp:
        text = await resp.text()
    found: dict[str, float] = {}
    for role, target, value in re.findall(r'runledger_read_target_reads_total\{role="(\w+)",target="([^"]+)"\} (\S+)', text):
        found[f"{role}:{target}"] = float(value)
    return found


async def test_every_read_endpoint_is_answered_by_both_standbys_and_not_the_primary(replica_cluster, replica_settings):
    run_id = await seed(replica_cluster, replica_settings)
    async with serve(settings=replica_settings, dsn=replica_cluster.primary.uri()) as api:
        for _ in range(3):
            await all_answer(api, endpoints(run_id))
        reads = await reads_by_role(api)
        async with api.get("/readyz") as resp:
            ready = await resp.json()
    standbys = {k: v for k, v in reads.items() if k.startswith("standby:")}
    assert len(standbys) == 2 and all(v > 0 for v in standbys.values()), reads
    assert reads["primary:primary"] == 0
    assert resp.status == 200
    shown = [v for k, v in ready["checks"].items() if k.startswith("reads:")]
    assert len(shown) == 3 and sum("standby ok" in v for v in shown) == 2, ready


async def test_no_request_fails_while_a_standby_is_down(replica_cluster, replica_settings):
    run_id = await seed(replica_cluster, replica_settings)
    one = replica_cluster.standbys[0]
    async with serve(settings=replica_settings, dsn=replica_cluster.primary.uri()) as api:
        await all_answer(api, endpoints(run_id))
        try:
            await replica_cluster.stop(one, mode="immediate")
            await all_answer(api, endpoints(run_id) * 3)

            async def shown_down() -> bool:
                async with api.get("/readyz") as resp:
                    checks = (await resp.json())["checks"]
                return resp.status == 200 and any(k.endswith(f"{one.socket_dir}:5432/runledger") and "standby down" in v
                                                  for k, v in checks.items())  # fmt: skip

            await eventually(shown_down)
        finally:
            await replica_cluster.start(one)
