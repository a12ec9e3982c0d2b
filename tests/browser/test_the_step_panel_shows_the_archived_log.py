"""The step panel shows a step's archived log as text (its tail when long), and says so when the log is not in S3."""

from __future__ import annotations

import pytest

from tests.support.ui_server import STEP_LOG

pytestmark = pytest.mark.browser


async def test_the_log_is_shown_as_text(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['logged-run']}?step=logged-step")
    panel = page.get_by_role("complementary", name="selected step")
    log = panel.locator("pre.log")
    await log.get_by_text("epoch 2").wait_for()
    assert await log.text_content() == STEP_LOG
    assert await page.locator("main script").count() == 0
    assert await panel.get_by_role("link", name="the whole log").get_attribute("href") == \
        f"/api/v1/runs/{ui.runs['logged-run']}/steps/logged-step/logs"


async def test_a_log_missing_from_s3_is_named_not_fetched(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['logged-run']}?step=lost-log-step")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_text("The archived log is not in S3").wait_for()


async def test_a_step_without_an_archived_log_has_no_log_section(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['oom-run']}?step=oom-step")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="Pod").wait_for()
    assert await panel.get_by_role("heading", name="Log").count() == 0
