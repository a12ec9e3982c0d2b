"""Fixtures of the browser tests: one Chromium and one seeded server per session, a fresh page per test.

Every page is watched: a console error, an uncaught exception or a dialog fails the test that
opened it (the pages render untrusted Workflow text; a dialog would mean some of it ran).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.browser import ARGS, PageWatch, ensure_chromium
from tests.support.ui_server import UiServer, ui_server


@pytest.fixture(scope="session")
def ui(pg_server_uri: str, template_database: str, moto_server, tmp_path_factory) -> Iterator[UiServer]:  # noqa: ANN001
    with ui_server(server_uri=pg_server_uri, template=template_database, moto=moto_server,
                   tmp_path=tmp_path_factory.mktemp("ui")) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    # The async API: the sync one runs a loop of its own in this thread, which the suite's async
    # fixtures cannot share. The server lives on another thread's loop, out of the leak check's sight.
    from playwright.async_api import async_playwright

    executable = ensure_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(executable), args=ARGS, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
async def page(browser, watch: PageWatch) -> AsyncIterator[object]:  # noqa: ANN001
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    watch.attach(tab)
    yield tab
    await context.close()
    assert watch.dialogs == [], f"dialogs fired: {watch.dialogs}"
    assert watch.errors == [], f"the page logged errors: {watch.errors}"
