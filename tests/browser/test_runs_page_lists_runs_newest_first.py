"""The runs page, opened by its URL, lists runs newest first with their phase as text."""

from __future__ import annotations

import pytest

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


async def test_root_redirects_to_the_runs_page_which_lists_runs(page, ui):
    await page.goto(ui.base + "/")
    assert page.url == ui.base + "/ui/"
    rows = page.locator("table.runs tbody tr")
    await rows.first.wait_for()
    assert await rows.count() == len(ui.runs)
    created = await page.locator("table.runs tbody tr td:nth-child(6)").all_inner_texts()
    assert created == sorted(created, reverse=True)
    assert await page.locator("table.runs .phase", has_text="Succeeded").count() > 0
    await screenshot(page, "runs")
