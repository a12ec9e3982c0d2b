"""Two replicas, one Lease: only the leader writes, and a handover loses and doubles nothing."""

from __future__ import annotations

import asyncio

from runledger.service import StopSignal, build_app, run_cluster_agent
from runledger.store import connection as db
from tests.support.agent import agent_settings
from tests.support.builders import WorkflowBuilder
from tests.support.kube_double import KubeDouble
from tests.support.kubeconfig import write_kubeconfig
from tests.support.waiting import eventually


async def start_replica(settings, dsn, identity):
    s = settings.updated(leader={"identity": identity})
    pool = await db.create_pool(dsn, database=s.database)
    stop = StopSignal()
    task = asyncio.create_task(run_cluster_agent(s, pool=pool, app=build_app(settings=s, pool=pool), stop=stop), name=f"replica-{identity}")
    return task, stop, pool


async def test_leader_failover_between_two_agents_loses_and_doubles_no_transition(dsn, settings, conn, tmp_path):
    async with KubeDouble() as double:
        s = agent_settings(settings, cluster={"kube_config": write_kubeconfig(tmp_path / "kubeconfig", double.url)}, leader={"election": True, "lease_namespace": "runledger", "lease_seconds": 2.0, "renew_deadline_seconds": 1.5, "retry_seconds": 0.1})  # fmt: skip
        wfs = []
        for i in range(10):
            wf = WorkflowBuilder(name=f"wf-{i}", namespace="argo")
            del wf.obj["metadata"]["uid"], wf.obj["metadata"]["resourceVersion"]
            wf.obj = double.create("workflows", wf.phase("Running", at=f"2026-01-01T00:01:{i:02d}Z").obj)
            wfs.append(wf)
        replicas = {name: await start_replica(s, dsn, name) for name in ("a", "b")}
        try:
            await double.wait_until(lambda: (double.get("leases", "runledger", "runledger-agent") or {}).get("spec", {}).get("holderIdentity") in ("a", "b"), timeout=10)
            first = double.get("leases", "runledger", "runledger-agent")["spec"]["holderIdentity"]
            second = "b" if first == "a" else "a"

            async def running_stored() -> bool:
                return await conn.fetchval("SELECT count(*) FROM runs WHERE phase = 'Running'") == 10

            await eventually(running_stored)
            replicas[first][1].event.set()  # graceful stop of the leader: it drains, then releases the lease
            await asyncio.wait_for(replicas[first][0], 10)
            for i, wf in enumerate(wfs):
                wf.obj = double.update("workflows", wf.phase("Succeeded", at=f"2026-01-01T00:09:{i:02d}Z").obj)

            async def all_done() -> bool:
                return await conn.fetchval("SELECT count(*) FROM runs WHERE phase = 'Succeeded'") == 10

            await eventually(all_done, timeout=15)
            holder = double.get("leases", "runledger", "runledger-agent")["spec"]["holderIdentity"]
            assert holder == second
        finally:
            for task, stop, pool in replicas.values():
                stop.event.set()
            await asyncio.gather(*(t for t, _, _ in replicas.values()), return_exceptions=True)
            for _, _, pool in replicas.values():
                await pool.close()
    rows = await conn.fetch("SELECT to_phase, count(*) AS n FROM transitions WHERE step_id = '' GROUP BY 1 ORDER BY 1")
    assert {r["to_phase"]: r["n"] for r in rows} == {"Running": 10, "Succeeded": 10}
