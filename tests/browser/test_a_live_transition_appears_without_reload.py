"""A run that starts or changes phase shows up in place, from the event feed, without a reload."""

from __future__ import annotations

import pytest

from tests.support.builders import WorkflowBuilder

pytestmark = pytest.mark.browser


async def test_a_new_run_appears_and_its_phase_changes_in_place(page, ui):
    await page.goto(ui.base + "/ui/")
    await page.get_by_text("● live").wait_for()
    await page.evaluate("window.notReloaded = true")
    wf = WorkflowBuilder(name="live-run", namespace="ml", uid="uid-live-run")
    wf.obj["metadata"]["creationTimestamp"] = "2030-01-01T00:00:00Z"
    ui.push([wf.phase("Running", at="2030-01-01T00:00:01Z").event("ADDED")])
    row = page.locator("table.runs tbody tr", has_text="live-run")
    await row.locator(".phase", has_text="Running").wait_for()
    ui.push([wf.phase("Succeeded", at="2030-01-01T00:00:09Z").event()])
    await row.locator(".phase", has_text="Succeeded").wait_for()
    assert await page.evaluate("window.notReloaded") is True


async def test_the_run_page_follows_its_run(page, ui):
    wf = WorkflowBuilder(name="live-steps", namespace="ml", uid="uid-live-steps")
    wf.node("live-steps-a", "Running", at="2026-01-01T00:00:02Z")
    ui.push([wf.phase("Running", at="2026-01-01T00:00:01Z").event("ADDED")])
    run_id = ui.thread.run(ui.pool.fetchval("SELECT id FROM runs WHERE name = 'live-steps'"))
    await page.goto(f"{ui.base}/ui/runs/{run_id}")
    await page.get_by_text("● live").wait_for()
    await page.locator("g.node", has_text="Running").wait_for()
    ui.push([wf.node("live-steps-a", "Succeeded", at="2026-01-01T00:00:08Z").phase("Succeeded", at="2026-01-01T00:00:09Z").event()])
    await page.locator("h1 .phase", has_text="Succeeded").wait_for()
    await page.locator("g.node", has_text="Succeeded").wait_for()
