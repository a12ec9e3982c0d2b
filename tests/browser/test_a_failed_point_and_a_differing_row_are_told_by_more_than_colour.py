"""What colour marks is also said otherwise: a failed run's point in a chart by its shape and title, a differing compare row by ≠."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


async def test_a_failed_run_s_point_is_a_square_titled_with_its_phase(page, ui):
    await page.goto(f"{ui.base}/ui/pipelines/multiline-pipe")
    chart = page.get_by_role("img", name="duration of 1 finished runs over time")
    await chart.wait_for()
    assert await chart.locator("circle").count() == 0
    point = chart.locator("rect.failed")
    assert await point.count() == 1
    assert "Failed" in await point.locator("title").text_content()


async def test_a_differing_compare_row_shows_the_not_equal_sign(page, ui):
    await page.goto(f"{ui.base}/ui/compare?ids={ui.runs['alpha']},{ui.runs['beta']}")
    row = page.locator("table.parameters tr.differs", has_text="lr")
    await row.wait_for()
    assert "≠" in await row.locator("th").evaluate("el => getComputedStyle(el, '::after').content")
