"""The ingest queue keeps, per run, the state with the highest resourceVersion, not the latest arrival."""

from __future__ import annotations

from runledger.agent.ingest import refusal
from runledger.agent.queueing import CoalescingQueue
from runledger.agent.translate import translate_workflow
from runledger.core.run_state import RunState
from tests.support.builders import WorkflowBuilder


def state(wf: WorkflowBuilder, phase: str, rv: int | str) -> RunState:
    return translate_workflow(wf.phase(phase).event(resource_version=rv)["object"])


def queue() -> CoalescingQueue[str, RunState]:
    return CoalescingQueue(max_keys=10, refuse=refusal)


async def test_a_lower_resource_version_does_not_replace_a_pending_state():
    wf, q = WorkflowBuilder(), queue()
    await q.put("run", state(wf, "Succeeded", 10))
    assert (await q.put("run", state(wf, "Running", 5))).startswith("stale:")
    ((_, kept),) = await q.get_batch(10)
    assert (kept.run.phase, kept.run.resource_version) == ("Succeeded", "10")


async def test_a_lower_resource_version_does_not_follow_a_state_being_written():
    wf, q = WorkflowBuilder(), queue()
    await q.put("run", state(wf, "Succeeded", 10))
    await q.get_batch(10)
    assert (await q.put("run", state(wf, "Running", 5))).startswith("stale:")
    await q.done(["run"])
    assert q.idle()


async def test_a_higher_or_equal_resource_version_replaces_a_pending_state():
    wf, q = WorkflowBuilder(), queue()
    await q.put("run", state(wf, "Running", 5))
    assert await q.put("run", state(wf, "Running", 5)) is None
    assert await q.put("run", state(wf, "Succeeded", 10)) is None
    ((_, kept),) = await q.get_batch(10)
    assert kept.run.resource_version == "10"


async def test_versions_are_compared_as_numbers_not_as_strings():
    wf, q = WorkflowBuilder(), queue()
    await q.put("run", state(wf, "Running", 9))
    assert await q.put("run", state(wf, "Succeeded", 10)) is None
    ((_, kept),) = await q.get_batch(10)
    assert kept.run.phase == "Succeeded"


async def test_versions_that_are_not_etcd_revisions_leave_arrival_order_to_decide():
    wf, q = WorkflowBuilder(), queue()
    await q.put("run", state(wf, "Running", "9" * 5000))
    assert await q.put("run", state(wf, "Running", "abc")) is None
    assert await q.put("run", state(wf, "Succeeded", 11)) is None
    ((_, kept),) = await q.get_batch(10)
    assert (kept.run.phase, kept.run.resource_version) == ("Succeeded", "11")
