"""The step panel shows the pod's facts: node, image, exit code, OOMKilled, restarts."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


async def test_an_oom_killed_step(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['oom-run']}?step=oom-step")
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="Pod").wait_for()
    text = await panel.inner_text()
    for fact in ("OOMKilled", "137", "ghcr.io/acme/trainer:1.4", "node-1", "Restarts\n2"):
        assert fact in text, fact
    assert await panel.locator(".warn", has_text="OOMKilled").count() == 1
