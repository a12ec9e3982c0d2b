"""The timeline's bars and the big graph's canvas are operated from the keyboard: Tab reaches them, Enter or Space opens."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


async def test_a_timeline_bar_is_reached_with_tab_and_opened_with_enter_or_space(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['oom-run']}")
    bar = page.locator(".gantt g.bar").first
    await bar.wait_for()
    await page.get_by_role("button", name="Fit").focus()
    for _ in range(10):  # past the graph's node and the panel to the timeline
        await page.keyboard.press("Tab")
        if await bar.evaluate("el => el === document.activeElement"):
            break
    assert await bar.evaluate("el => el === document.activeElement")
    assert await bar.evaluate("el => getComputedStyle(el.querySelector('rect')).strokeWidth") == "3px"  # focus shows
    await page.keyboard.press("Enter")
    await page.wait_for_url("**step=oom-step")
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['oom-run']}")
    await page.locator(".gantt g.bar").first.focus()
    await page.keyboard.press(" ")
    await page.wait_for_url("**step=oom-step")


async def test_space_opens_the_node_picked_on_the_canvas(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    await page.locator(".graph canvas").focus()
    await page.keyboard.press("]")
    await page.keyboard.press("]")
    await page.get_by_text("selected [0]").wait_for()
    await page.keyboard.press(" ")
    await page.wait_for_url("**step=fanout-group")


async def test_a_sortable_header_sorts_with_space(page, ui):
    await page.goto(f"{ui.base}/ui/")
    await page.get_by_role("button", name="Duration").focus()
    await page.keyboard.press(" ")
    await page.wait_for_url("**sort=-duration")
