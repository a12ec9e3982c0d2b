"""Every text on every page meets WCAG AA contrast, measured on the colours the browser really draws."""

from __future__ import annotations

import pytest

from tests.support.contrast import LOW_CONTRAST_TEXT
from tests.support.ui_server import XSS

pytestmark = pytest.mark.browser


def pages(ui) -> dict[str, str]:  # noqa: ANN001
    runs = ui.runs
    return {
        "runs": "/ui/", "run": f"/ui/runs/{runs['oom-run']}?step=oom-step", "failed": f"/ui/runs/{runs['multiline-run']}",
        "xss": f"/ui/runs/{runs['xss-run']}?step=xss-step",
        "artifact": f"/ui/artifacts/{ui.artifact_id('runs/report/ui.tgz')}",
        "rejected": f"/ui/artifacts/{ui.artifact_id('runs/bad-ui/ui.tgz')}",
        "lineage": f"/ui/lineage?node=run:{runs['report']}", "compare": f"/ui/compare?ids={runs['alpha']},{runs['beta']},nope",
        "pipeline": "/ui/pipelines/trainer?window=all", "failures": f"/ui/pipelines/{XSS.replace('/', '%2F')}?window=all",
        "not-found": "/ui/nowhere", "no-run": "/ui/runs/no-such-run",
    }  # fmt: skip


@pytest.mark.parametrize("name", ["runs", "run", "failed", "xss", "artifact", "rejected", "lineage", "compare", "pipeline",
                                  "failures", "not-found", "no-run"])  # fmt: skip
async def test_no_text_falls_below_aa(page, ui, name):
    await page.goto(ui.base + pages(ui)[name])
    await page.locator("main h1").wait_for()
    await page.locator("main :is(table, svg, .notice, dl, p)").first.wait_for()
    if name == "runs":  # the event feed keeps the network busy
        await page.get_by_text("runs on this page").wait_for()
    else:
        await page.wait_for_load_state("networkidle")
    assert await page.evaluate(LOW_CONTRAST_TEXT) == []


async def test_the_measure_finds_pale_text(page, ui):
    await page.goto(ui.base + "/ui/nowhere")
    await page.locator("main h1").wait_for()
    await page.evaluate("document.querySelector('main p a').style.color = '#999999'")
    assert [line.split(":")[0] for line in await page.evaluate(LOW_CONTRAST_TEXT)] == ['a. "Back to the runs"']


async def test_no_text_falls_below_aa_on_the_token_prompt(page, ui):
    await page.goto(ui.auth_base + "/ui/")
    await page.get_by_role("heading", name="A token is needed").wait_for()
    assert await page.evaluate(LOW_CONTRAST_TEXT) == []
