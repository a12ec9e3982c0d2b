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
    assert await rows.count() >= len(ui.runs)  # other tests may have added live runs
    created = await page.locator("table.runs tbody tr td:nth-child(6)").all_inner_texts()
    known = [c for c in created if c != "—"]  # a fixture without a creation time sorts by when it was seen
    assert known == sorted(known, reverse=True)
    assert await page.locator("table.runs .phase", has_text="Succeeded").count() > 0
    await screenshot(page, "runs")
