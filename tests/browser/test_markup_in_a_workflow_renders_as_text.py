"""Names, messages and parameters carrying <script> and <img onerror> render as visible text and never run."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tests.support.browser import screenshot
from tests.support.ui_server import XSS

pytestmark = pytest.mark.browser


async def no_injected_elements(page) -> None:  # noqa: ANN001
    assert await page.locator("main img, main script, main iframe").count() == 0


async def test_the_payloads_are_text_on_every_page(page, ui):
    run = ui.runs["xss-run"]
    await page.goto(f"{ui.base}/ui/runs/{run}?step=xss-step")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name=f"step {XSS}").wait_for()
    await page.get_by_role("region", name="run").get_by_role("cell", name=XSS, exact=True).wait_for()  # a parameter
    assert await panel.get_by_text(XSS, exact=True).count() >= 1  # the step's message
    await no_injected_elements(page)
    await screenshot(page, "xss-run")

    await page.goto(f"{ui.base}/ui/?namespace=ml")
    await page.get_by_role("link", name=XSS).click()
    await page.get_by_role("heading", name=f"Pipeline {XSS}").wait_for()
    await no_injected_elements(page)
    assert unquote(page.url).endswith(XSS)

    await page.goto(f"{ui.base}/ui/lineage?node=run:{run}&depth=2")
    await page.locator("g.node", has_text="step <img").first.wait_for()
    await no_injected_elements(page)
