"""The writer diffs each state against what it persisted and writes only what changed."""

from __future__ import annotations

from runledger.agent.translate import translate_workflow
from runledger.store.writer import RunWriter
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import dump, ingest


async def write(conn, writer, event):
    return await writer.write(conn, [translate_workflow(event["object"], deleted=event["type"] == "DELETED")])


async def test_one_node_changing_phase_writes_that_step_the_run_and_two_transitions_only(conn):
    wf = WorkflowBuilder().phase("Running").node("root", "Running", type="DAG")
    for i in range(20):
        wf.node(f"n{i}", "Pending", parent="root")
    writer = RunWriter()
    await write(conn, writer, wf.event("ADDED"))
    wf.node("n3", "Running", at="2026-01-01T00:01:00Z")
    result = await write(conn, writer, wf.event())
    # the step row, the run row (its step counts changed) and the step's transition
    assert (result.rows, result.transitions) == (3, 1)


async def test_a_state_identical_to_the_persisted_one_writes_nothing(conn):
    wf = WorkflowBuilder().phase("Running").node("a", "Running")
    writer = RunWriter()
    await write(conn, writer, wf.event("ADDED"))
    result = await write(conn, writer, wf.event())  # new resourceVersion, same content
    assert result.rows == 0 and result.runs_unchanged == 1


async def test_a_restarted_writer_reloads_fingerprints_and_still_writes_nothing_for_known_state(conn):
    wf = WorkflowBuilder().phase("Running").node("a", "Running").node("b", "Pending", parent="a")
    await write(conn, RunWriter(), wf.event("ADDED"))
    result = await write(conn, RunWriter(), wf.event())
    assert result.rows == 0


async def test_a_stale_resource_version_never_overwrites_newer_state(conn):
    wf = WorkflowBuilder().phase("Running").node("a", "Running")
    old = wf.event("ADDED")
    new = wf.node("a", "Succeeded").phase("Succeeded").event()
    writer = RunWriter()
    await write(conn, writer, new)
    result = await write(conn, writer, old)
    assert result.runs_stale == 1
    assert await conn.fetchval("SELECT phase FROM steps WHERE id = 'a'") == "Succeeded"


async def test_nodes_removed_from_the_workflow_are_removed_with_their_edges_and_parameters(conn):
    wf = WorkflowBuilder().phase("Running").node("a", "Failed").node(
        "b", "Failed", parent="a", outputs={"parameters": [{"name": "p", "value": "1"}]})  # fmt: skip
    writer = RunWriter()
    await write(conn, writer, wf.event("ADDED"))
    del wf.obj["status"]["nodes"]["b"]
    wf.obj["status"]["nodes"]["a"]["children"] = []
    await write(conn, writer, wf.event())
    assert await conn.fetchval("SELECT count(*) FROM steps") == 1
    assert await conn.fetchval("SELECT count(*) FROM step_edges") == 0
    assert await conn.fetchval("SELECT count(*) FROM parameters WHERE step_id = 'b'") == 0


async def test_phase_changes_append_transitions_with_the_times_the_object_records(conn):
    wf = WorkflowBuilder()
    writer = RunWriter()
    await write(conn, writer, wf.event("ADDED"))
    await write(conn, writer, wf.phase("Running", at="2026-01-01T00:00:05Z").node("a", "Running", at="2026-01-01T00:00:06Z").event())
    await write(conn, writer, wf.phase("Succeeded", at="2026-01-01T00:09:00Z").node("a", "Succeeded", at="2026-01-01T00:08:00Z").event())
    rows = await conn.fetch("SELECT step_id, from_phase, to_phase, to_char(at AT TIME ZONE 'UTC', 'HH24:MI:SS') AS at FROM transitions ORDER BY at, id")
    assert [tuple(r) for r in rows] == [
        ("", None, "Pending", "00:00:00"),
        ("", "Pending", "Running", "00:00:05"),
        ("a", None, "Running", "00:00:06"),
        ("a", "Running", "Succeeded", "00:08:00"),
        ("", "Running", "Succeeded", "00:09:00"),
    ]


async def test_deleted_marks_the_run_deleted_and_keeps_its_history(pool, settings, conn):
    wf = WorkflowBuilder().phase("Succeeded").node("a", "Succeeded")
    await ingest(pool, settings, [wf.event("ADDED"), wf.event("DELETED")])
    run = await conn.fetchrow("SELECT deleted_at, phase FROM runs")
    assert run["deleted_at"] is not None and run["phase"] == "Succeeded"
    assert await conn.fetchval("SELECT count(*) FROM steps") == 1
    assert await conn.fetchval("SELECT count(*) FROM transitions") == 2


async def test_events_for_one_run_are_coalesced_to_the_newest_state(pool, settings, conn):
    wf = WorkflowBuilder()
    events = [wf.event("ADDED")]
    for i in range(50):
        events.append(wf.node(f"n{i}", "Running").phase("Running").event())
    events.append(wf.phase("Succeeded").event())
    ingestor = await ingest(pool, settings, events)
    assert ingestor.stats.runs_written + ingestor.queue.coalesced + ingestor.stats.runs_unchanged == len(events)
    assert await conn.fetchval("SELECT phase FROM runs") == "Succeeded"
    assert await conn.fetchval("SELECT count(*) FROM steps") == 50


async def test_many_runs_are_written_in_few_transactions(pool, settings, conn):
    builders = [WorkflowBuilder(name=f"wf-{i}") for i in range(300)]
    events = [b.phase("Running").node("a", "Running").event("ADDED") for b in builders]
    ingestor = await ingest(pool, settings, events)
    assert await conn.fetchval("SELECT count(*) FROM runs") == 300
    assert ingestor.stats.batches < 300 / 4


async def test_bad_objects_in_a_stream_are_counted_and_everything_else_is_stored(pool, settings, conn):
    good = WorkflowBuilder(name="good").phase("Running").event("ADDED")
    events = [
        {"type": "ADDED", "object": {"kind": "ConfigMap", "metadata": {"name": "x"}}},
        {"type": "ADDED", "object": {"kind": "Workflow"}},
        {"type": "MODIFIED", "object": {"kind": "Workflow", "metadata": {"name": "z"}, "status": {"compressedNodes": "%%%"}}},
        good,
    ]
    ingestor = await ingest(pool, settings, events)
    assert ingestor.stats.errors["invalid_object"] == 3
    assert [r["name"] for r in await conn.fetch("SELECT name FROM runs")] == ["good"]


async def test_replaying_a_recorded_stream_twice_leaves_the_database_identical(pool, settings, conn):
    wf = WorkflowBuilder()
    events = [wf.event("ADDED"), wf.phase("Running").node("a", "Running").event(), wf.node("a", "Succeeded").phase("Succeeded").event()]
    await ingest(pool, settings, events)
    before = await dump(conn)
    await ingest(pool, settings, events)
    assert await dump(conn) == before
