"""With auth on, a page's links to API documents (a run's JSON, a whole step log) open with the tab's
token: a browser's own navigation would send none and get a 401."""

from __future__ import annotations

import json

import pytest

from tests.support.ui_server import TEAM_A_TOKEN

pytestmark = pytest.mark.browser


async def test_a_run_s_json_link_opens_the_run_with_the_token(page, ui):
    await page.goto(ui.auth_base + "/ui/")
    await page.get_by_label("Bearer token").fill(TEAM_A_TOKEN)
    await page.get_by_role("button", name="Use token").click()
    await page.get_by_role("link", name="team-a-run").click()
    await page.get_by_role("heading", name="team-a-run").wait_for()
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="JSON", exact=True).click()
    document = await opened.value
    await document.wait_for_load_state()
    body = json.loads(await document.locator("body").inner_text())
    assert body["id"] == ui.runs["team-a-run"] and body["namespace"] == "team-a"
