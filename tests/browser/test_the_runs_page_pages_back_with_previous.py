"""The runs page pages back as well as forward: "Previous page" walks the keyset pages back the way
they came, from a reloaded or linked URL too, and the browser's Back agrees."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.waiting import eventually

pytestmark = pytest.mark.browser


FIRST = "table.runs tbody tr:first-child td:nth-child(3)"


async def first_row_is(page, name: str) -> bool:  # noqa: ANN001
    return await page.evaluate("(sel) => document.querySelector(sel)?.textContent", FIRST) == name


async def first_row_is_not(page, name: str) -> bool:  # noqa: ANN001
    return not await first_row_is(page, name)


async def names(page) -> list[str]:  # noqa: ANN001
    await page.locator("table.runs tbody tr").first.wait_for()
    return await page.locator("table.runs tbody tr td:nth-child(3)").all_inner_texts()


async def shown(page, rows: list[str]) -> None:  # noqa: ANN001
    # The URL changes before the rows are drawn again: wait for this page's first row.
    await eventually(lambda: first_row_is(page, rows[0]))
    assert await names(page) == rows


async def test_previous_walks_back_through_the_pages_walked(page, ui):
    await page.goto(ui.base + "/ui/?limit=4")
    walked = [await names(page)]
    for _ in range(2):
        await page.get_by_role("link", name="Next page").click()
        await page.wait_for_url("**page_token=**")
        await eventually(lambda: first_row_is_not(page, walked[-1][0]))
        walked.append(await names(page))
    assert len({tuple(rows) for rows in walked}) == 3
    # The first page (an empty token), then the second's.
    assert len(parse_qs(urlsplit(page.url).query, keep_blank_values=True)["back"]) == 2

    await page.reload()  # the way back lives in the URL
    await shown(page, walked[2])
    await page.get_by_role("link", name="Previous page").click()
    await shown(page, walked[1])
    await page.get_by_role("link", name="Previous page").click()
    await page.wait_for_url("**/ui/?limit=4")
    await shown(page, walked[0])
    assert await page.get_by_role("link", name="Previous page").count() == 0

    await page.go_back()
    await shown(page, walked[1])
    await page.go_back()
    await shown(page, walked[2])
    await page.get_by_role("link", name="Previous page").wait_for()


async def test_a_bare_page_token_offers_the_first_page_rather_than_a_previous_it_cannot_know(page, ui):
    await page.goto(ui.base + "/ui/?limit=4")
    await names(page)
    token = parse_qs(urlsplit(await page.get_by_role("link", name="Next page").get_attribute("href")).query)["page_token"][0]
    await page.goto(f"{ui.base}/ui/?limit=4&page_token={token}")
    await page.get_by_role("link", name="First page").wait_for()
    assert await page.get_by_role("link", name="Previous page").count() == 0
