"""An unknown artifact or lineage node, a malformed lineage node or runs filter, and a missing token are each told on
the page, asked in a way the API answers 200: the browser logs no failed load."""

from __future__ import annotations

import pytest

from tests.support.browser import screenshot
from tests.support.ui_server import TEAM_A_TOKEN

pytestmark = pytest.mark.browser


async def test_an_unknown_artifact_id_is_a_clear_not_found(page, ui):
    await page.goto(f"{ui.base}/ui/artifacts/99999999")
    await page.get_by_role("heading", name="Not found").wait_for()
    await page.get_by_text("There is no artifact with the id 99999999").wait_for()


async def test_an_unknown_s3_uri_is_a_clear_not_found(page, ui):
    await page.goto(f"{ui.base}/ui/artifacts/s3://mlpipeline/no/such/object.tgz")
    await page.get_by_role("heading", name="Not found").wait_for()
    await page.get_by_text("There is no artifact at s3://mlpipeline/no/such/object.tgz").wait_for()


async def test_a_malformed_lineage_node_names_the_forms_it_takes(page, ui):
    await page.goto(f"{ui.base}/ui/lineage?node=bogus")
    await page.get_by_role("alert").wait_for()
    assert "artifact:" in await page.get_by_role("alert").inner_text()


async def test_a_well_formed_lineage_node_that_does_not_exist_is_a_clear_not_found(page, ui):
    await page.goto(f"{ui.base}/ui/lineage?node=run:no-such-run")
    await page.get_by_role("heading", name="Not found").wait_for()
    await page.get_by_text("no run matches this node").wait_for()


async def test_a_malformed_runs_filter_is_named_and_the_form_stays(page, ui):
    await page.goto(f"{ui.base}/ui/?phase=sideways")
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert "unknown phase 'sideways'" in await alert.inner_text()
    await page.get_by_role("button", name="Apply").wait_for()
    await screenshot(page, "runs-bad-filter")


async def test_the_token_prompt_and_a_refused_token_log_nothing_and_the_header_names_the_caller(page, ui):
    await page.goto(ui.auth_base + "/ui/")
    await page.get_by_role("heading", name="A token is needed").wait_for()
    await page.get_by_label("Bearer token").fill("not-a-token")
    await page.get_by_role("button", name="Use token").click()
    await page.get_by_text("The token was refused: the bearer token is not valid").wait_for()
    await page.get_by_label("Bearer token").fill(TEAM_A_TOKEN)
    await page.get_by_role("button", name="Use token").click()
    await page.locator("table.runs tbody tr").first.wait_for()
    badge = page.locator("header #caller")
    assert await badge.inner_text() == "alice"
    assert await badge.get_attribute("title") == "Signed in as alice; reads team-a"
