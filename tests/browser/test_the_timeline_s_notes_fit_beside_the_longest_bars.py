"""The phase and duration written beside a bar that runs to the end of the timeline stay inside it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


async def test_every_note_ends_inside_the_chart(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    notes = page.locator(".gantt g.bar text:nth-of-type(2)")
    await notes.first.wait_for()
    chart = await page.locator(".gantt svg").bounding_box()
    for note in (await notes.all())[:20]:
        box = await note.bounding_box()
        assert box["x"] + box["width"] <= chart["x"] + chart["width"], await note.text_content()
