"""The step graph is usable without a mouse: [ and ] walk the nodes, Enter opens one; the focus is visible."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


async def test_svg_nodes_are_focusable_and_open_with_enter(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['report']}")
    node = page.locator("g.node").first
    await node.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url("**step=report-train")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="report-train").wait_for()


async def test_the_canvas_of_a_big_run_walks_with_brackets(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    canvas = page.locator(".graph canvas")
    await canvas.focus()
    await page.keyboard.press("]")
    await page.keyboard.press("]")
    await page.get_by_text("selected [0]").wait_for()  # the step group, the second node laid out
    await page.keyboard.press("Enter")
    await page.wait_for_url("**step=fanout-group")
    outline = await canvas.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
