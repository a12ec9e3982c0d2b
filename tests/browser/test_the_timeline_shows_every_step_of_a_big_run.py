"""The timeline of the 5,000-step run holds every started step: scrolling or the keyboard reaches the
last one, with only the rows in sight drawn, and Tab walks on past the rows first drawn."""

from __future__ import annotations

import re

import pytest

from tests.support.browser import screenshot
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser

BARS = ".gantt g.bar"


GROUPS = {"StepGroup", "TaskGroup", "DAG", "Steps"}


async def started_steps(page, base: str, run: str) -> int:  # noqa: ANN001
    steps = (await (await page.request.get(f"{base}/api/v1/runs/{run}/steps")).json())["steps"]
    return sum(1 for st in steps if st["started_at"] and st["type"] not in GROUPS)


async def rows_in_timeline(page) -> int:  # noqa: ANN001
    label = await page.locator(".gantt svg").get_attribute("aria-label")
    return int(re.fullmatch(r"timeline of (\d+) steps", label)[1])


async def focused_row(page) -> int | None:  # noqa: ANN001
    row = await page.evaluate("() => document.activeElement?.dataset?.row ?? null")
    return None if row is None else int(row)


async def test_scrolling_to_the_end_draws_the_last_step_and_few_bars_at_once(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    await page.locator(BARS).first.wait_for()
    total = await rows_in_timeline(page)
    assert total == await started_steps(page, ui.base, ui.runs["fanout"]) > 4000
    assert await page.locator(BARS).count() < 100
    await page.locator(".gantt").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    last = page.locator(f'{BARS}[data-row="{total - 1}"]')
    await last.wait_for()
    assert await last.is_visible()
    assert await page.locator(BARS).count() < 100
    await screenshot(page, "run-5000-timeline-end")


async def test_end_home_and_arrows_move_through_every_row_and_enter_opens_it(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    await page.locator(BARS).first.focus()
    total = await rows_in_timeline(page)
    await page.keyboard.press("End")
    assert await focused_row(page) == total - 1
    await page.keyboard.press("ArrowUp")
    assert await focused_row(page) == total - 2
    label = await page.locator(f'{BARS}[data-row="{total - 2}"]').get_attribute("aria-label")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**step=**")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name=label.split(":")[0]).wait_for()
    await page.locator(f'{BARS}[data-row="{total - 2}"]').focus()
    await page.keyboard.press("Home")
    assert await focused_row(page) == 0


async def test_tab_walks_on_past_the_rows_first_drawn(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    await page.locator(BARS).first.focus()
    for expected in range(1, 60):
        await page.keyboard.press("Tab")
        assert await focused_row(page) == expected
    await eventually(lambda: page.locator(f'{BARS}[data-row="59"]').is_visible())
