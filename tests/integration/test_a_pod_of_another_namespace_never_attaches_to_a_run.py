"""A pod is tied to its run by the workflow uid it names; one of another namespace/name is refused and never shown."""

from __future__ import annotations

from runledger.store.run_history import list_steps
from tests.support.builders import WorkflowBuilder, pod_of
from tests.support.ingesting import ingest


def team_a() -> WorkflowBuilder:
    return WorkflowBuilder(name="train", namespace="team-a", uid="shared-uid").phase("Running").node("prep", "Running")


def team_b() -> WorkflowBuilder:
    return WorkflowBuilder(name="other", namespace="team-b", uid="shared-uid")


def modified(pod: dict) -> dict:
    return {"type": "MODIFIED", "object": pod}


async def pods_shown(conn) -> dict[str, str | None]:
    return {s.id: s.pod.pod_name if s.pod else None for s in await list_steps(conn, "shared-uid")}


async def test_a_foreign_pod_for_a_stored_run_is_refused_and_counted(pool, settings, conn):
    wf = team_a()
    await ingest(pool, settings, [wf.event("ADDED")], pods=[modified(pod_of(wf, "prep", resource_version="7"))])
    ingestor = await ingest(pool, settings, [], pods=[modified(pod_of(team_b(), "prep", resource_version="9"))])
    assert ingestor.stats.errors == {"uid_conflict": 1}
    assert await pods_shown(conn) == {"prep": "train-prep"}
    assert await conn.fetchval("SELECT count(*) FROM step_pods WHERE namespace = 'team-b'") == 0


async def test_a_foreign_pod_seen_before_the_run_is_not_shown_with_it(pool, settings, conn):
    await ingest(pool, settings, [], pods=[modified(pod_of(team_b(), "prep", resource_version="9"))])
    await ingest(pool, settings, [team_a().event("ADDED")])
    assert await pods_shown(conn) == {"prep": None}
