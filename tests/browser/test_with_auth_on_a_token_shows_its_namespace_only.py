"""With static tokens, the UI asks for a token once per tab and shows only what the API returns for it."""

from __future__ import annotations

import pytest

from tests.support.browser import screenshot
from tests.support.ui_server import TEAM_A_TOKEN

pytestmark = pytest.mark.browser


async def test_the_token_prompt_then_one_namespace(page, ui):
    await page.goto(ui.auth_base + "/ui/")
    await page.get_by_role("heading", name="A token is needed").wait_for()
    await screenshot(page, "token")
    await page.get_by_label("Bearer token").fill(TEAM_A_TOKEN)
    await page.get_by_role("button", name="Use token").click()
    await page.locator("table.runs tbody tr").first.wait_for()
    assert await page.locator("table.runs tbody tr td:nth-child(3)").all_inner_texts() == ["team-a-run"]
    await page.get_by_role("link", name="team-a-run").click()
    await page.get_by_role("heading", name="team-a-run").wait_for()

    await page.goto(f"{ui.auth_base}/ui/lineage?node=run:{ui.runs['team-a-run']}&direction=upstream")
    await page.locator("g.node", has_text="redacted").wait_for()
    assert await page.locator("g.node", has_text="team-b").count() == 0

    await page.goto(f"{ui.auth_base}/ui/runs/{ui.runs['team-b-run']}")
    await page.get_by_role("heading", name="Not found").wait_for()  # another tenant's run is not there
