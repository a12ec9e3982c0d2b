"""Runs -> run -> step -> artifact -> lineage and back, by clicking, every page also reachable by its URL."""

from __future__ import annotations

import pytest

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


async def test_click_through_and_back(page, ui):
    await page.goto(ui.base + "/ui/")
    await page.get_by_role("link", name="report", exact=True).click()
    await page.wait_for_url(f"**/ui/runs/{ui.runs['report']}")
    await page.get_by_role("heading", name="report").wait_for()
    await page.locator("g.node", has_text="report-train").click()
    await page.wait_for_url("**step=report-train")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="report-train").wait_for()
    assert "Succeeded" in await panel.inner_text()
    await screenshot(page, "run")

    await panel.get_by_role("link", name="mlpipeline-ui-metadata").click()
    await page.wait_for_url("**/ui/artifacts/*")
    await page.get_by_role("heading", name="ui.tgz").wait_for()
    await page.get_by_role("link", name="lineage", exact=True).click()
    await page.wait_for_url("**/ui/lineage?node=artifact*")
    await page.locator("g.node", has_text="report-train").wait_for()
    await screenshot(page, "lineage")
    await page.locator("g.node", has_text="report-train").click()
    await page.wait_for_url("**/ui/lineage?node=step*")
    await page.get_by_role("link", name="report-train").wait_for()

    for expected in ("**/ui/lineage?node=artifact*", "**/ui/artifacts/*", "**/ui/runs/*", "**/ui/"):
        await page.go_back()
        await page.wait_for_url(expected)
    await page.locator("table.runs tbody tr").first.wait_for()


async def test_a_pasted_run_url_with_a_step_opens_that_step(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['report']}?step=report-train")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="report-train").wait_for()


async def test_an_unknown_page_says_so(page, ui):
    await page.goto(ui.base + "/ui/nowhere")
    await page.get_by_role("heading", name="Not found").wait_for()
    await screenshot(page, "not-found")
