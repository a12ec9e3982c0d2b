"""A step group folds into one node (edges kept to it) and unfolds again, from its panel or for every group at once."""

from __future__ import annotations

import pytest

from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


async def test_a_5000_pod_group_folds_from_its_panel_and_unfolds(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}?step=fanout-group")
    await page.locator(".graph canvas").wait_for()
    panel = page.get_by_role("complementary", name="selected step")
    fold = panel.get_by_role("button", name="Collapse the 5000 steps inside")
    await fold.focus()
    await page.keyboard.press("Enter")
    await page.locator("g.node", has_text="5000 folded").wait_for()
    assert await page.locator("g.node").count() == 2
    assert await page.locator(".graph svg path").count() == 1  # the run's node to its folded group
    shown = await page.locator("g.node", has_text="5000 folded").locator("text").nth(1).text_content()
    assert "5000 folded" in shown  # what the box shows, not only its title
    await screenshot(page, "run-folded")
    unfold = panel.get_by_role("button", name="Expand the 5000 steps inside")
    assert await unfold.get_attribute("aria-expanded") == "false"
    await unfold.click()
    await page.locator(".graph canvas").wait_for()


async def test_collapse_groups_folds_all_but_the_run_s_own_node_and_expand_all_undoes_it(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    await page.locator(".graph canvas").wait_for()
    await page.get_by_role("button", name="Collapse groups").click()
    await page.locator("g.node", has_text="5000 folded").wait_for()
    assert await page.locator("g.node").count() == 2
    await page.get_by_role("button", name="Expand all").click()
    await page.locator(".graph canvas").wait_for()


async def test_finding_a_folded_step_opens_it_in_the_panel_and_selects_its_group(page, ui):
    await page.goto(f"{ui.base}/ui/runs/{ui.runs['fanout']}")
    await page.get_by_role("button", name="Collapse groups").click()
    await page.locator("g.node", has_text="5000 folded").wait_for()
    await page.get_by_label("Find a step").fill("shard(7)")
    await page.get_by_role("button", name="Show").click()
    panel = page.get_by_role("complementary", name="selected step")
    await panel.get_by_role("heading", name="shard(7)").wait_for()
    assert "[0]" in await page.locator("g.node.selected").text_content()


FOLD = """async (collapsed) => {
  const { fold, membership } = await import("/ui/static/groups.js");
  const step = (id, type, children, boundary_id) => ({ id, type, children, boundary_id });
  const steps = [step("S", "Steps", ["G0"], null), step("G0", "StepGroup", ["p1", "p2"], "S"),
    step("p1", "Pod", ["G1"], "S"), step("p2", "Pod", ["G1"], "S"), step("G1", "StepGroup", ["p3"], "S"),
    step("p3", "Pod", [], "S")];
  const { shown, edges, held } = fold(steps, collapsed, membership(steps));
  return { shown: shown.map((s) => s.id), edges: edges.map((e) => e.join(">")), held: Object.fromEntries(held) };
}"""


@pytest.mark.parametrize(("collapsed", "shown", "edges", "held"), [
    (["G0"], ["S", "G0", "G1", "p3"], ["S>G0", "G0>G1", "G1>p3"], {"G0": 2}),
    (["S"], ["S"], [], {"S": 5}),
    (["G0", "S"], ["S"], [], {"S": 5}),
    (["S", "G0"], ["S"], [], {"S": 5}),
])  # fmt: skip
async def test_a_fold_keeps_the_edges_around_it_and_the_outer_group_wins(page, ui, collapsed, shown, edges, held):
    await page.goto(ui.base + "/ui/nowhere")
    await page.locator("main h1").wait_for()
    assert await page.evaluate(FOLD, collapsed) == {"shown": shown, "edges": edges, "held": held}
