"""Compare shows runs side by side with differences marked; a pipeline's page shows its trends."""

from __future__ import annotations

import pytest

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


async def test_compare_marks_the_rows_that_differ(page, ui):
    ids = ",".join(ui.runs[n] for n in ("alpha", "beta", "gamma"))
    await page.goto(f"{ui.base}/ui/compare?ids={ids}")
    lr = page.locator("table.parameters tr", has_text="lr")
    await lr.wait_for()
    assert await lr.get_attribute("class") == "differs"
    assert await lr.locator("td").all_inner_texts() == ["0.1", "0.01", "0.1"]
    assert await page.locator("table.metrics tr.differs", has_text="accuracy").count() == 1
    assert await page.locator("svg.chart rect").count() == 3
    await screenshot(page, "compare")


async def test_the_runs_list_hands_picked_runs_to_compare(page, ui):
    await page.goto(f"{ui.base}/ui/?pipeline=trainer")
    for name in ("alpha", "beta"):
        await page.get_by_label(f"select {name} to compare").check()
    await page.get_by_role("button", name="Compare selected (2)").click()
    await page.wait_for_url("**/ui/compare?ids=*")
    await page.locator("table.compare-runs tbody tr").nth(1).wait_for()
    assert await page.locator("table.compare-runs tbody tr").count() == 2


async def test_a_pipeline_shows_its_metric_duration_success_rate_and_failures(page, ui):
    await page.goto(f"{ui.base}/ui/pipelines/trainer")
    await page.locator(".success-rate").wait_for()
    assert (await page.locator(".success-rate").inner_text()).startswith("100.0 %")
    assert await page.get_by_label("Metric").input_value() == "accuracy"
    assert await page.locator("svg.chart").first.locator("circle").count() == 3
    assert await page.get_by_text("None among these runs.").count() == 1
    await screenshot(page, "pipeline")


async def test_a_pipeline_shows_its_analytics_over_the_window_chosen(page, ui):
    await page.goto(f"{ui.base}/ui/pipelines/trainer?window=all")
    await page.locator(".success-rate-window").wait_for()
    assert (await page.locator(".success-rate-window").inner_text()) == "100.0 %"
    assert await page.get_by_label("Runs created in the").input_value() == "all"
    assert "no data" in await page.locator(".cost").inner_text()
    assert await page.get_by_text("No run failed in this window.").count() == 1
    await page.get_by_label("Runs created in the").select_option("1d")
    await page.wait_for_url("**window=1d*")
    await page.locator(".stats-empty").wait_for()


async def test_a_pipeline_s_failure_causes_show_a_message_as_text(page, ui):
    from tests.support.ui_server import XSS

    await page.goto(f"{ui.base}/ui/pipelines/{XSS.replace('/', '%2F')}?window=all")
    causes = page.locator("table.failure-causes tbody tr")
    await causes.first.wait_for()
    assert await causes.locator("td").first.inner_text() == "Error"
    assert "<img" in await causes.locator("td").nth(1).inner_text()
    assert await page.locator("main img, main script, main iframe").count() == 0
    await screenshot(page, "pipeline-analytics")
