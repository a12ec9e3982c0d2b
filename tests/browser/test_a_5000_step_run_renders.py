"""A 5,000-pod fan-out is laid out and drawn (on a canvas) and its steps can still be found and opened."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.browser import screenshot
from tests.support.ui_server import FANOUT_NODES

pytestmark = pytest.mark.browser


async def test_the_fanout_renders_and_a_step_opens(page, ui):
    started = time.monotonic()
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    await page.locator(".graph canvas").wait_for()
    await page.get_by_text(f"{FANOUT_NODES + 2} nodes").wait_for()
    drawn = time.monotonic() - started
    assert drawn < 10, f"the 5,000-step page took {drawn:.1f} s"
    await page.get_by_label("Find a step").fill("shard(4850)")
    await page.get_by_role("button", name="Show").click()
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="shard(4850)").wait_for()
    assert "Failed" in await panel.inner_text()  # 4850 = 97 * 50
    await page.get_by_text(re.compile(r"^\d{4} steps by start time")).wait_for()  # all of them, not the first 200
    await screenshot(page, "run-5000")
