"""A pipeline's recent failures, and a failed run's header, name the step that failed and link to it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


async def test_the_failures_table_links_each_failure_to_its_failing_step(page, ui):
    await page.goto(f"{ui.base}/ui/pipelines/multiline-pipe")
    row = page.locator("table.recent-failures tbody tr", has_text="multiline-run")
    await row.wait_for()
    await row.get_by_role("link", name="multiline-run.train").click()
    await page.wait_for_url(f"**/ui/runs/{ui.runs['multiline-run']}?step=train")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="multiline-run.train").wait_for()


async def test_a_failed_run_s_header_names_its_failing_step(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['multiline-run']}")
    header = page.get_by_role("region", name="run")
    await header.locator("dt:text-is('Failed step') + dd").get_by_role("link", name="multiline-run.train").wait_for()
