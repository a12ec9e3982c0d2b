"""Filters and sorts of the runs page live in its URL (the API's own vocabulary) and change the rows."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


async def cells(page, column: int) -> list[str]:  # noqa: ANN001
    await page.locator("table.runs tbody tr").first.wait_for()
    return await page.locator(f"table.runs tbody tr td:nth-child({column})").all_inner_texts()


async def test_a_namespace_and_a_phase_filter_the_rows_and_land_in_the_url(page, ui):
    await page.goto(ui.base + "/ui/")
    await page.get_by_label("Namespace").fill("argo")
    await page.get_by_label("Phase").select_option("Failed")
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_url("**/ui/?namespace=argo&phase=Failed")
    assert set(await cells(page, 4)) == {"argo"}
    phases = await cells(page, 2)
    assert phases and all(p.endswith("Failed") for p in phases)


async def test_parameter_and_metric_filters_and_a_metric_column_sort(page, ui):
    await page.goto(ui.base + "/ui/")
    await page.get_by_label("Metrics (accuracy>=0.9)").fill("accuracy>=0.9")
    await page.get_by_label("Metric column").fill("accuracy")
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_url("**/ui/?metric.accuracy%3E=0.9&col=accuracy")
    assert sorted(await cells(page, 3)) == ["alpha", "gamma"]
    await page.get_by_role("button", name="accuracy").click()
    await page.wait_for_url("**sort=-metric.accuracy**")
    await page.locator("td[data-metric]", has_text="0.95").wait_for()
    assert await cells(page, 3) == ["gamma", "alpha"]
    assert await cells(page, 10) == ["0.95", "0.91"]
    await screenshot(page, "runs-filtered")

    await page.goto(ui.base + "/ui/?param.lr=0.01")
    assert await cells(page, 3) == ["beta"]
    assert await page.get_by_label("Parameters (name=value)").input_value() == "lr=0.01"


async def test_pages_follow_the_apis_page_tokens(page, ui):
    await page.goto(ui.base + "/ui/?limit=10")
    first = await cells(page, 3)
    assert len(first) == 10
    await page.get_by_role("link", name="Next page").click()
    await page.wait_for_url("**page_token=**")
    assert query_of(page.url)["limit"] == ["10"]
    await page.get_by_role("link", name="First page").wait_for()
    second = await cells(page, 3)
    assert len(second) == 10 and not set(first) & set(second)
    await page.go_back()
    await page.wait_for_url("**/ui/?limit=10")
    # The URL changes before the rows are drawn again: wait for the first page's rows to be back.
    await page.locator("table.runs tbody tr td:nth-child(3)", has_text=first[0]).first.wait_for()
    assert await cells(page, 3) == first


async def test_a_pipeline_a_label_and_a_time_range_filter_the_rows_and_come_back_from_the_url(page, ui):
    await page.goto(ui.base + "/ui/")
    await page.get_by_label("Pipeline").fill("trainer")
    await page.get_by_label("Labels (k=v, k, !k)").fill("pipeline/runid=kfp-alpha")
    await page.get_by_label("Created after (UTC)").fill("2025-12-31T00:00")
    await page.get_by_label("Created before (UTC)").fill("2026-01-02T00:00")
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_url("**created_before=**")
    assert query_of(page.url) == {"pipeline": ["trainer"], "label": ["pipeline/runid=kfp-alpha"],
                                  "created_after": ["2025-12-31T00:00:00Z"], "created_before": ["2026-01-02T00:00:00Z"]}
    await page.locator("table.runs tbody tr", has_text="alpha").wait_for()
    assert await cells(page, 3) == ["alpha"]
    await page.reload()  # the form is filled back from the URL
    assert await page.get_by_label("Created after (UTC)").input_value() == "2025-12-31T00:00"
    assert await page.get_by_label("Labels (k=v, k, !k)").input_value() == "pipeline/runid=kfp-alpha"
    await page.get_by_label("Created before (UTC)").fill("2025-12-31T12:00")
    await page.get_by_role("button", name="Apply").click()
    await page.get_by_text("No runs match these filters.").wait_for()
