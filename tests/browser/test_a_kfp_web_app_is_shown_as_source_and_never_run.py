"""A KFP web-app output is shown as its HTML source, as text: nothing of it runs, loads or is refused noisily."""

from __future__ import annotations

import pytest

from tests.support.ui_server import WEB_APP

pytestmark = pytest.mark.browser


async def test_its_source_is_text_and_no_frame_or_element_of_it_exists(page, ui):
    await page.goto(f"{ui.base}/ui/artifacts/{ui.artifact_id('runs/report/ui.tgz')}")
    viewer = page.locator(".viewer", has_text="web-app")
    await viewer.get_by_text("runledger does not run it").click()  # opens the source
    assert await viewer.locator("pre").inner_text() == WEB_APP
    assert await page.locator("iframe, main img, main script, main style").count() == 0
    assert await page.title() not in ("ran", "clicked")
    # The page fixture fails the test on any console error: a refused script, style or image would be one.
