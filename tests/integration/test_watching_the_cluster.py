"""The watch engine against a Kubernetes API double speaking the real protocol, through real
kubernetes-asyncio clients, asserting on what lands in Postgres."""

from __future__ import annotations

import pytest

from tests.support.agent import agent_settings, running_agent, settled
from tests.support.builders import WorkflowBuilder
from tests.support.kube_double import KubeDouble
from tests.support.waiting import eventually


@pytest.fixture
async def double():
    async with KubeDouble() as d:
        yield d


def workflow(name: str, namespace: str = "argo", phase: str = "Running") -> WorkflowBuilder:
    wf = WorkflowBuilder(name=name, namespace=namespace)
    wf.obj["metadata"].pop("uid")
    wf.obj["metadata"].pop("resourceVersion")
    return wf.phase(phase).node("a", phase)


def create(double: KubeDouble, wf: WorkflowBuilder) -> None:
    wf.obj = double.create("workflows", wf.obj)


def update(double: KubeDouble, wf: WorkflowBuilder) -> None:
    wf.obj = double.update("workflows", wf.obj)


async def count(conn, sql: str, *args) -> int:
    return await conn.fetchval(sql, *args)


async def test_the_initial_list_is_paginated_and_stores_thousands_of_workflows(double, pool, conn, settings):
    for i in range(2000):
        double.create("workflows", workflow(f"wf-{i:04d}").obj)
    async with running_agent(pool, double, agent_settings(settings, cluster={"watch_page_size": 250})) as running:
        await settled(running, double)
        assert await count(conn, "SELECT count(*) FROM runs") == 2000
    pages = [r for r in double.requests_for("workflows", "list")]
    assert len(pages) == 8 and all(r.query.get("limit") == "250" for r in pages)


async def test_watch_updates_are_applied_in_order(double, pool, conn, settings):
    wf = workflow("wf-live", phase="Pending")
    create(double, wf)
    async with running_agent(pool, double, agent_settings(settings)) as running:
        await settled(running, double)
        for minute, phase in ((5, "Running"), (9, "Succeeded")):
            wf.phase(phase, at=f"2026-01-01T00:0{minute}:00Z").node("a", phase)
            update(double, wf)

            async def stored(phase=phase) -> bool:
                return await conn.fetchval("SELECT phase FROM runs") == phase

            await eventually(stored)
    run_transitions = await conn.fetch("SELECT from_phase, to_phase FROM transitions WHERE step_id = '' ORDER BY at, id")
    assert [(t["from_phase"], t["to_phase"]) for t in run_transitions] == [
        (None, "Pending"), ("Pending", "Running"), ("Running", "Succeeded")]  # fmt: skip


async def test_a_410_inside_the_stream_relists_and_marks_vanished_runs_deleted(double, pool, conn, settings):
    keep, vanish = workflow("wf-keep"), workflow("wf-vanish")
    create(double, keep)
    create(double, vanish)
    async with running_agent(pool, double, agent_settings(settings)) as running:
        await settled(running, double)
        double.pause_watches("workflows")  # the agent will miss the deletion event...
        double.delete("workflows", "argo", "wf-vanish")
        double.compact()  # ...and the history that held it
        double.resume_watches("workflows")
        double.inject_error_event("workflows", code=410)

        async def reconciled() -> bool:
            return await conn.fetchval("SELECT deleted_at IS NOT NULL FROM runs WHERE name = 'wf-vanish'")

        await eventually(reconciled)
        stream = next(s for s in running.agent.streams if s.name.startswith("workflows"))
        assert stream.state.counts["gone"] >= 1 and stream.state.counts["lists"] >= 2
    assert await conn.fetchval("SELECT deleted_at IS NULL FROM runs WHERE name = 'wf-keep'")
    assert await count(conn, "SELECT count(*) FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.name = 'wf-vanish'") == 1


async def test_an_http_410_on_a_stale_watch_also_relists(double, pool, conn, settings):
    create(double, workflow("wf-1"))
    double.stale_watch_as_http_410 = True
    async with running_agent(pool, double, agent_settings(settings)) as running:
        await settled(running, double)
        double.pause_watches("workflows")
        create(double, workflow("wf-2"))
        double.compact()
        double.drop_watches("workflows")  # reconnect from a compacted resourceVersion -> HTTP 410

        async def both() -> bool:
            return await count(conn, "SELECT count(*) FROM runs") == 2

        await eventually(both)
    assert len(double.requests_for("workflows", "list")) == 2


async def test_a_dropped_connection_resumes_without_loss_or_duplication(double, pool, conn, settings):
    wfs = [workflow(f"wf-{i}", phase="Pending") for i in range(20)]
    for wf in wfs:
        create(double, wf)
    async with running_agent(pool, double, agent_settings(settings)) as running:
        await settled(running, double)
        for i, wf in enumerate(wfs):
            wf.phase("Running", at=f"2026-01-01T01:00:{i:02d}Z")
            update(double, wf)
            if i == 9:

                async def ten_running() -> bool:
                    return await count(conn, "SELECT count(*) FROM runs WHERE phase = 'Running'") == 10

                await eventually(ten_running)
                assert double.drop_watches("workflows") == 1
        for i, wf in enumerate(wfs):
            wf.phase("Succeeded", at=f"2026-01-01T02:00:{i:02d}Z")
            update(double, wf)

        async def all_done() -> bool:
            return await count(conn, "SELECT count(*) FROM runs WHERE phase = 'Succeeded'") == 20

        await eventually(all_done)
    assert len(double.requests_for("workflows", "list")) == 1  # resumed by watch, not relisted
    assert double.watches_started("workflows") >= 2
    dup = await count(conn, "SELECT count(*) FROM (SELECT run_id, step_id, to_phase FROM transitions GROUP BY 1, 2, 3 HAVING count(*) > 1) d")
    assert dup == 0
    assert await count(conn, "SELECT count(*) FROM transitions WHERE step_id = '' AND to_phase = 'Succeeded'") == 20


async def test_429_is_retried_after_the_servers_retry_after(double, pool, conn, settings):
    create(double, workflow("wf-1"))
    double.fail_next("workflows", 429, retry_after=0, times=2, verb="list")
    async with running_agent(pool, double, agent_settings(settings)) as running:
        await settled(running, double)
        stream = next(s for s in running.agent.streams if s.name.startswith("workflows"))
        assert stream.state.counts["throttled"] == 2
    assert await count(conn, "SELECT count(*) FROM runs") == 1


async def test_html_answers_and_garbage_lines_are_counted_and_survived(double, pool, conn, settings):
    create(double, workflow("wf-1"))
    double.fail_next("workflows", 200, body="<html>proxy error</html>", content_type="text/html", verb="list")
    async with running_agent(pool, double, agent_settings(settings)) as running:
        await settled(running, double)
        double.inject_garbage_line("workflows")
        create(double, workflow("wf-2"))

        async def both() -> bool:
            return await count(conn, "SELECT count(*) FROM runs") == 2

        await eventually(both)
        stream = next(s for s in running.agent.streams if s.name.startswith("workflows"))
        assert stream.state.counts["bad_lines"] == 1 and stream.state.counts["errors"] >= 1


async def test_a_restarted_agent_resumes_from_its_checkpoint_without_relisting(double, pool, conn, settings):
    create(double, workflow("wf-1"))
    s = agent_settings(settings)
    async with running_agent(pool, double, s) as running:
        await settled(running, double)
    lists_before = len(double.requests_for("workflows", "list"))
    create(double, workflow("wf-2"))  # happens while no agent runs
    async with running_agent(pool, double, s) as running:

        async def caught_up() -> bool:
            return await count(conn, "SELECT count(*) FROM runs") == 2

        await eventually(caught_up)
    assert len(double.requests_for("workflows", "list")) == lists_before
    assert await conn.fetchval("SELECT count(*) FROM watch_checkpoints") >= 1


async def test_a_stale_checkpoint_falls_back_to_a_full_relist(double, pool, conn, settings):
    create(double, workflow("wf-1"))
    s = agent_settings(settings)
    async with running_agent(pool, double, s) as running:
        await settled(running, double)
    create(double, workflow("wf-2"))
    double.compact()
    async with running_agent(pool, double, s) as running:

        async def caught_up() -> bool:
            return await count(conn, "SELECT count(*) FROM runs") == 2

        await eventually(caught_up)


async def test_pods_enrich_their_steps_even_when_seen_before_the_workflow(double, pool, conn, settings):
    wf = workflow("wf-pod")
    wf_obj = wf.obj
    wf_obj["metadata"]["uid"] = "5f0c6a2e-0000-4000-8000-000000000001"
    pod = {
        "metadata": {
            "name": "wf-pod-a", "namespace": "argo",
            "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "wf-pod",
                                 "uid": "5f0c6a2e-0000-4000-8000-000000000001", "controller": True}],
            "labels": {"workflows.argoproj.io/workflow": "wf-pod"},
            "annotations": {"workflows.argoproj.io/node-id": "a", "workflows.argoproj.io/node-name": "wf-pod.a"},
        },
        "spec": {"nodeName": "node-7", "containers": [{"name": "wait", "image": "argoexec"},
                 {"name": "main", "image": "python:3.12", "resources": {"limits": {"memory": "1Gi"}}}]},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "main", "restartCount": 0, "state": {
            "terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-01-01T00:03:00Z"}}}]},
    }  # fmt: skip
    async with running_agent(pool, double, agent_settings(settings)) as running:
        await settled(running, double)
        double.create("pods", pod)  # the pod arrives first
        await eventually(lambda: _has(conn, "SELECT count(*) FROM step_pods"))
        wf.obj = double.create("workflows", wf_obj)
        await eventually(lambda: _has(conn, "SELECT count(*) FROM steps"))
    row = await conn.fetchrow(
        "SELECT p.exit_code, p.termination_reason, p.image, p.host_node, p.limits FROM steps s "
        "JOIN step_pods p ON p.run_id = s.run_id AND p.node_id = s.id"
    )
    assert tuple(row) == (137, "OOMKilled", "python:3.12", "node-7", {"memory": "1Gi"})


async def _has(conn, sql: str) -> bool:
    return await conn.fetchval(sql) > 0
