"""Real inputs that are easy to draw badly each get a clear page: no blank page, no console error."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.support.browser import screenshot
from tests.support.ui_server import LONG_STEP, MULTILINE, UNICODE_RUN

pytestmark = pytest.mark.browser


async def test_a_run_with_no_steps_says_so(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['empty-run']}")
    await page.get_by_text("No steps recorded.").wait_for()
    await page.get_by_text("No step has started.").wait_for()


async def test_a_run_whose_nodes_were_offloaded_says_where_they_went(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['offloaded-run']}")
    await page.get_by_text("offloaded to Argo's database").wait_for()


async def test_a_very_long_step_name_is_shown_whole_and_the_page_keeps_its_width(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['long-run']}?step=long-step")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name=LONG_STEP).wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The graph's box clips its label rather than letting it run over the border.
    box = await page.locator("g.node rect.box").bounding_box()
    label = await page.locator("g.node text").first.bounding_box()
    assert label["x"] + label["width"] <= box["x"] + box["width"]


async def test_a_unicode_name_round_trips_through_the_url(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{quote(ui.runs[UNICODE_RUN])}")
    await page.get_by_role("heading", name=UNICODE_RUN).wait_for()
    await page.locator("g.node", has_text="шаг-β-✓").wait_for()


async def test_a_multi_line_failure_message_keeps_its_lines(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['multiline-run']}?step=train")
    header = page.get_by_role("region", name="run")
    message = header.locator("dt:text-is('Message') + dd.message")
    await message.wait_for()
    assert await message.inner_text() == MULTILINE
    panel = page.get_by_role("complementary", name="selected step")
    assert await panel.locator("dd.message").inner_text() == MULTILINE


async def test_a_finished_run_without_a_finish_time_is_not_shown_as_running(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['untimed-run']}")
    await page.get_by_role("heading", name="untimed-run").wait_for()
    duration = page.get_by_role("region", name="run").locator("dt:text-is('Duration') + dd")
    assert await duration.inner_text() == "— (no finish time recorded)"


async def test_a_pipeline_with_no_finished_run_says_so(page, ui):
    await page.goto(f"{ui.base}/ui/pipelines/never-done?window=all")
    await page.get_by_text("no finished runs").wait_for()
    await page.get_by_text("Its runs report no KFP metrics.").wait_for()


async def test_malformed_ui_metadata_is_named_as_rejected(page, ui):
    await page.goto(f"{ui.base}/ui/artifacts/{ui.artifact_id('runs/bad-ui/ui.tgz')}")
    await page.get_by_role("heading", name="Rejected content").wait_for()
    await page.get_by_text("not valid JSON").wait_for()


async def test_a_run_id_that_does_not_exist_is_a_clear_not_found(page, ui):
    await page.goto(f"{ui.base}/ui/runs/no-such-run")
    await page.get_by_role("heading", name="Not found").wait_for()
    await page.get_by_text("There is no run with the id no-such-run").wait_for()
    await screenshot(page, "run-not-found")
