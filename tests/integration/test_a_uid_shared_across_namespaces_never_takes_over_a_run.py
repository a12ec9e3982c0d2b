"""A workflow uid already recorded under another namespace/name is a conflict: the first owner keeps its run."""

from __future__ import annotations

from runledger.agent.exposition import ingest_metrics
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import RUN_ROW_TABLES, dump, ingest


def team_a() -> WorkflowBuilder:
    return (
        WorkflowBuilder(name="train", namespace="team-a", uid="shared-uid")
        .phase("Running")
        .node("train", "Running", type="DAG")
        .node("prep", "Succeeded", parent="train", outputs={"parameters": [{"name": "rows", "value": "100"}]})
    )


def team_b() -> WorkflowBuilder:
    wf = WorkflowBuilder(name="other", namespace="team-b", uid="shared-uid").phase("Failed")
    wf.obj["spec"]["arguments"]["parameters"] = [{"name": "lr", "value": "9"}]
    return wf.node("other", "Failed", type="DAG", at="2026-01-02T00:00:00Z")


def conflicts_on_metrics(ingestor) -> float:
    return sum(
        s.value for f in ingest_metrics(ingestor) for s in f.samples
        if s.name == "runledger_errors_total" and s.labels == {"kind": "uid_conflict"}
    )  # fmt: skip


async def recorded(conn) -> dict[str, list[tuple]]:
    """What team-a's replay records, without the times of writing."""
    queries = {
        "runs": "SELECT namespace, name, phase, parameters::text FROM runs",
        "steps": "SELECT run_id, id, phase FROM steps ORDER BY id",
        "parameters": "SELECT run_id, step_id, direction, name, value FROM parameters ORDER BY 2, 3, 4",
        "transitions": "SELECT run_id, step_id, from_phase, to_phase, at FROM transitions ORDER BY 2, 4",
    }
    return {table: [tuple(r) for r in await conn.fetch(sql)] for table, sql in queries.items()}


async def test_a_second_owner_in_the_same_replay_is_refused_and_counted(pool, settings, conn):
    await ingest(pool, settings, [team_a().event("ADDED")])
    expected = await recorded(conn)
    await conn.execute(f"TRUNCATE runs, transitions, {', '.join(RUN_ROW_TABLES)} CASCADE")

    ingestor = await ingest(pool, settings, [team_a().event("ADDED"), team_b().event("ADDED")])
    assert await recorded(conn) == expected
    assert ingestor.stats.errors == {"uid_conflict": 1}
    assert conflicts_on_metrics(ingestor) == 1


async def test_a_second_owner_in_a_later_replay_leaves_the_stored_run_intact(pool, settings, conn):
    await ingest(pool, settings, [team_a().event("ADDED")])
    before = await dump(conn)
    ingestor = await ingest(pool, settings, [team_b().event("ADDED")])
    assert await dump(conn) == before
    assert (await conn.fetchval("SELECT namespace || '/' || name FROM runs")) == "team-a/train"
    assert ingestor.stats.errors == {"uid_conflict": 1}
    assert conflicts_on_metrics(ingestor) == 1
