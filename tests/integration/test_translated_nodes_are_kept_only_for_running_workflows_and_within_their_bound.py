"""The ingestor keeps a large running workflow's translated nodes (so an event translates only the
nodes it changed; a small one keeps none) and drops them once the workflow finishes, is deleted or is gone; what all keep is bounded by
ingest.node_memo_bytes, and what is stored is the same either way."""

from __future__ import annotations

from runledger.agent.ingest import MEMO_MIN_NODES, Ingestor
from runledger.core.run_state import WatchEvent
from runledger.service import build_ingestor
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import RUN_ROW_TABLES, ingest

TABLES = ("runs", "steps", "step_edges", "parameters", "artifact_refs", "transitions")


def running(name: str, steps: int = MEMO_MIN_NODES) -> WorkflowBuilder:
    wf = WorkflowBuilder(name).phase("Running").node("root", "Running", type="DAG")
    for i in range(steps):
        wf.node(f"{name}-{i}", "Pending", parent="root")
    return wf


async def submit(ingestor: Ingestor, *events: dict) -> None:
    for event in events:
        await ingestor.submit(WatchEvent.model_validate(event))
    await ingestor.drain()


async def test_a_running_workflow_keeps_its_nodes_until_it_finishes(pool, settings):
    wf = running("wf-a")
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        await submit(ingestor, wf.event("ADDED"), wf.node("wf-a-1", "Running").event())
        runs, size = ingestor.memoized()
        assert runs == 1 and size > 0
        await submit(ingestor, wf.node("wf-a-1", "Succeeded").phase("Succeeded").event())
        assert ingestor.memoized() == (0, 0)


async def test_a_workflow_of_fewer_nodes_keeps_none(pool, settings):
    wf = running("wf-small", steps=MEMO_MIN_NODES - 2)  # with its root, one node short
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        await submit(ingestor, wf.event("ADDED"), wf.node("wf-small-1", "Running").event())
        assert ingestor.memoized() == (0, 0)


async def test_a_workflow_whose_phase_is_no_text_is_refused_and_the_stream_goes_on(pool, settings, conn):
    broken = running("wf-odd").event("ADDED")
    broken["object"]["status"]["phase"] = ["Running"]  # no schema stops a status like this
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        await submit(ingestor, broken, running("wf-fine").event("ADDED"))
    assert await conn.fetchval("SELECT count(*) FROM runs WHERE name = 'wf-fine'") == 1


async def test_a_deleted_workflow_drops_its_nodes(pool, settings):
    wf = running("wf-b")
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        await submit(ingestor, wf.event("ADDED"))
        assert ingestor.memoized()[0] == 1
        await submit(ingestor, wf.event("DELETED"))
        assert ingestor.memoized() == (0, 0)


async def test_an_object_that_is_no_workflow_drops_what_its_run_kept(pool, settings):
    wf = running("wf-c")
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        await submit(ingestor, wf.event("ADDED"))
        broken = wf.event()
        broken["object"]["metadata"]["name"] = ["not", "a", "name"]
        await submit(ingestor, broken)
        assert ingestor.stats.errors["invalid_object"] == 1
        assert ingestor.memoized() == (0, 0)


async def test_workflows_beyond_the_bound_are_translated_whole_and_later_ones_wait_for_room(pool, settings):
    one = running("wf-0")
    async with build_ingestor(pool=pool, settings=settings) as ingestor:
        await submit(ingestor, one.event("ADDED"))
        _, size = ingestor.memoized()
    bounded = settings.updated(ingest={"node_memo_bytes": 2 * size})
    workflows = [running(f"wf-{i}") for i in range(4)]
    async with build_ingestor(pool=pool, settings=bounded) as ingestor:
        await submit(ingestor, *(wf.event("ADDED") for wf in workflows))
        assert ingestor.memoized() == (2, 2 * size)
        await submit(ingestor, workflows[0].phase("Succeeded").event())
        await submit(ingestor, *(wf.event() for wf in workflows[1:]))
        assert ingestor.memoized() == (2, 2 * size)


async def stored(conn) -> dict[str, list[str]]:
    """Every row, without the times it was written and first seen at (which differ between the two ingests)."""
    sql = "SELECT (to_jsonb(t) - 'updated_at' - 'first_seen_at')::text FROM {} t"
    return {t: sorted(r[0] for r in await conn.fetch(sql.format(t))) for t in TABLES}


async def test_the_same_rows_are_stored_with_and_without_kept_nodes(pool, settings):
    wf = running("wf-d")
    events = [wf.event("ADDED")]
    for i in range(8):
        events.append(wf.node(f"wf-d-{i}", "Running", at=f"2026-01-01T00:01:{i:02d}Z").event())
        events.append(wf.node(f"wf-d-{i}", "Succeeded", at=f"2026-01-01T00:02:{i:02d}Z").event())
    events.append(wf.phase("Succeeded").event())
    async with pool.acquire() as conn:
        await ingest(pool, settings, events)
        kept = await stored(conn)
        await conn.execute(f"TRUNCATE runs, {', '.join(RUN_ROW_TABLES)} RESTART IDENTITY CASCADE")
        await ingest(pool, settings.updated(ingest={"node_memo_bytes": 0}), events)
        assert await stored(conn) == kept
        assert len(kept["transitions"]) == 1 + (1 + MEMO_MIN_NODES) + 16 + 1
