// /ui/pipelines/{name}[?metric=accuracy] — a pipeline's trends: a metric and the duration over
// time, its success rate and its recent failures, from its newest runs.

import { get } from "../api.js";
import { add, fmtDuration, fmtTime, h, phaseBadge, runHref, seconds, table } from "../dom.js";
import { timeSeries } from "../charts.js";

const RECENT = 500;
const FINAL = new Set(["Succeeded", "Failed", "Error"]);

export async function render(main, { args: [name], query, signal, navigate }) {
  document.title = `${name} · runledger`;
  add(main, h("h1", {}, `Pipeline ${name}`));
  const page = await get("/api/v1/runs", { pipeline: name, limit: String(RECENT) }, { signal });
  const runs = page.runs;
  const finished = runs.filter((r) => FINAL.has(r.phase));
  const ok = finished.filter((r) => r.phase === "Succeeded").length;
  const failures = runs.filter((r) => r.phase === "Failed" || r.phase === "Error").slice(0, 10);
  const rate = finished.length ? `${((100 * ok) / finished.length).toFixed(1)} % (${ok} of ${finished.length} finished runs)` : "no finished runs";
  add(main, 
    h("p", {}, `Over the ${runs.length} newest runs${page.next_page_token ? ` (of more)` : ""}: success rate `, h("strong", { class: "success-rate" }, rate), ". ",
      h("a", { href: `/ui/?pipeline=${encodeURIComponent(name)}` }, "All its runs")));

  // Which metrics there are: those its newest runs report (one compare call, at most 50 runs).
  const newest = runs.slice(0, 50).map((r) => r.id);
  const compared = newest.length ? await get("/api/v1/runs/compare", { ids: newest.join(",") }, { signal }) : { metrics: {} };
  const names = Object.keys(compared.metrics).sort();
  const metric = query.get("metric") || names[0];
  const picker = h("select", { id: "metric", onchange: (e) => navigate(`/ui/pipelines/${encodeURIComponent(name)}?metric=${encodeURIComponent(e.target.value)}`) },
    names.map((n) => h("option", { value: n, selected: n === metric }, n)));
  add(main, h("h2", {}, "Metric over time"));
  if (metric) {
    const series = await get(`/api/v1/pipelines/${encodeURIComponent(name)}/metrics`, { name: metric }, { signal });
    add(main, h("div", { class: "inline-form" }, h("label", { for: "metric" }, "Metric", picker)),
      timeSeries(series.points.map((p) => ({ t: Date.parse(p.created_at || p.finished_at), v: p.value, label: p.run_name, bad: p.phase !== "Succeeded" })),
        { label: `${metric} of ${series.points.length} runs over time` }),
      series.truncated ? h("p", { class: "muted" }, "Only the newest points are shown.") : null);
  } else {
    add(main, h("p", { class: "muted" }, "Its runs report no KFP metrics."));
  }

  add(main, h("h2", {}, "Duration over time"));
  const durations = finished.filter((r) => r.started_at || r.created_at).map((r) => ({
    t: Date.parse(r.created_at), v: seconds(r.started_at || r.created_at, r.finished_at), label: r.name, bad: r.phase !== "Succeeded",
  })).reverse();
  add(main, timeSeries(durations, { label: `duration of ${durations.length} finished runs over time`, format: fmtDuration, colour: "#116329" }),
    h("p", { class: "muted" }, "Red points: runs that did not succeed."));

  add(main, h("h2", {}, "Recent failures"), failures.length
    ? table(["run", "phase", "created", "message"], failures.map((r) => [h("a", { href: runHref(r.id) }, r.name), phaseBadge(r.phase),
      fmtTime(r.created_at), r.message || "—"]))
    : h("p", { class: "muted" }, "None among these runs."));
}
