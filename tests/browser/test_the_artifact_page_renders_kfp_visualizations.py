"""An artifact's mlpipeline-ui-metadata is drawn as KFP draws it: markdown, table, confusion matrix, ROC, web app."""

from __future__ import annotations

import pytest

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


async def test_every_viewer_type_is_drawn(page, ui):
    await page.goto(f"{ui.base}/ui/artifacts/{ui.artifact_id('runs/report/ui.tgz')}")
    await page.get_by_role("heading", name="Visualizations").wait_for()
    assert await page.locator(".md strong").inner_text() == "0.93"
    assert await page.locator(".md code").inner_text() == "holdout"
    assert await page.locator("table", has_text="importance").locator("tbody tr").count() == 2
    confusion = page.locator("table.confusion")
    assert await confusion.locator("tbody tr").nth(1).locator("td").all_inner_texts() == ["3", "52"]
    assert "AUC" in await page.locator("figure figcaption").inner_text()
    assert "Stored at" in await page.locator(".viewer", has_text="tensorboard").inner_text()
    assert "indexed" in await page.locator("dl.facts").inner_text()
    await screenshot(page, "artifact")
