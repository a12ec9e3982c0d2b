"""The runs list's metric column is filled on a page longer than one compare call takes (50 runs)."""

from __future__ import annotations

import pytest

from tests.support.builders import WorkflowBuilder

pytestmark = pytest.mark.browser


async def test_every_row_gets_its_value_and_nothing_fails(page, ui):
    fillers = 51 - len(ui.runs)
    ui.push([WorkflowBuilder(name=f"filler-{i}", namespace="filler").phase("Succeeded").event("ADDED") for i in range(fillers)])
    await page.goto(f"{ui.base}/ui/?col=accuracy&limit=100")
    rows = page.locator("table.runs tbody tr")
    await rows.first.wait_for()
    assert await rows.count() > 50
    await rows.filter(has_text="alpha").locator("td[data-metric]", has_text="0.91").wait_for()
    await page.locator("td[data-metric]", has_text="…").first.wait_for(state="detached")
