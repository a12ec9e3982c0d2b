// /ui/pipelines/{name}[?metric=accuracy][&window=7d] — a pipeline's analytics over a window (what
// fails and why, what waits, what it costs: GET /api/v1/stats/pipelines/{name}/templates, from the
// rollups) and its trends: a metric and the duration over time, its recent failures, from its newest runs.

import { get } from "../api.js";
import { add, fmtDuration, fmtTime, h, phaseBadge, runHref, seconds, table } from "../dom.js";
import { timeSeries } from "../charts.js";

const RECENT = 500;
const WINDOWS = { "1d": 1, "7d": 7, "30d": 30, "365d": 365, "all": Infinity };
const FINAL = new Set(["Succeeded", "Failed", "Error"]);

export async function render(main, { args: [name], query, signal, navigate }) {
  document.title = `${name} · runledger`;
  add(main, h("h1", {}, `Pipeline ${name}`));
  await analytics(main, name, { query, signal, navigate });
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
      timeSeries(series.points.map((p) => ({ t: Date.parse(p.created_at || p.finished_at), v: p.value, label: p.run_name, bad: p.phase !== "Succeeded", note: p.phase })),
        { label: `${metric} of ${series.points.length} runs over time` }),
      series.truncated ? h("p", { class: "muted" }, "Only the newest points are shown.") : null);
  } else {
    add(main, h("p", { class: "muted" }, "Its runs report no KFP metrics."));
  }

  add(main, h("h2", {}, "Duration over time"));
  const durations = finished.filter((r) => r.started_at || r.created_at).map((r) => ({
    t: Date.parse(r.created_at), v: seconds(r.started_at || r.created_at, r.finished_at), label: r.name, bad: r.phase !== "Succeeded", note: r.phase,
  })).reverse();
  add(main, timeSeries(durations, { label: `duration of ${durations.length} finished runs over time`, format: fmtDuration, colour: "#116329" }),
    h("p", { class: "muted" }, "Red squares: runs that did not succeed."));

  add(main, h("h2", {}, "Recent failures"), failures.length
    ? table(["run", "phase", "created", "failing step", "failure"], failures.map((r) => [h("a", { href: runHref(r.id) }, r.name),
      phaseBadge(r.phase), fmtTime(r.created_at),
      r.failed_step ? h("a", { href: runHref(r.id, r.failed_step.id) }, r.failed_step.name) : h("span", { class: "muted" }, "none named"),
      h("span", { class: "message" }, r.failure || r.message || "—")]), { class: "recent-failures" })
    : h("p", { class: "muted" }, "None among these runs."));
}

// --- analytics: the stats endpoint's figures; a figure it has no data for shows why -------------

async function analytics(main, name, { query, signal, navigate }) {
  const chosen = WINDOWS[query.get("window")] ? query.get("window") : "7d";
  const until = new Date();
  const since = WINDOWS[chosen] === Infinity ? new Date(0) : new Date(until.getTime() - WINDOWS[chosen] * 86400e3);
  const stats = await get(`/api/v1/stats/pipelines/${encodeURIComponent(name)}/templates`,
    { since: since.toISOString(), until: until.toISOString() }, { signal });
  const picker = h("select", { id: "window", onchange: (e) => {
    const next = new URLSearchParams(query);
    next.set("window", e.target.value);
    navigate(`/ui/pipelines/${encodeURIComponent(name)}?${next}`);
  } }, Object.keys(WINDOWS).map((w) => h("option", { value: w, selected: w === chosen }, w === "all" ? "all time" : `last ${w}`)));
  add(main, h("h2", {}, "Analytics"), h("div", { class: "inline-form" }, h("label", { for: "window" }, "Runs created in the", picker)));
  const [runs, ...templates] = stats.groups;
  if (!runs || runs.name !== null) {
    add(main, h("p", { class: "muted stats-empty" }, "No runs created in this window."));
    return;
  }
  add(main, h("dl", { class: "facts stats-runs" },
    figure("Runs", `${runs.count} (${runs.succeeded} succeeded, ${runs.failed} failed, ${runs.other} not finished)`),
    figure("Success rate", pct(runs.success_rate, runs.missing.success_rate), "success-rate-window"),
    figure("Duration p50 / p95", pair(runs.duration, runs.missing.duration)),
    figure("Queueing p50 / p95", pair(runs.queue, runs.missing.queue)),
    figure("Step duration p50 / p95", pair(runs.step_duration, runs.missing.step_duration)),
    figure("Step queueing p50 / p95", pair(runs.step_queue, runs.missing.step_queue)),
    figure("Retries / flaky steps", `${runs.retries} / ${runs.flaky}`),
    figure("CPU / GPU hours", runs.resources ? `${(runs.resources.cpu_seconds / 3600).toFixed(2)} / ${(runs.resources.gpu_seconds / 3600).toFixed(2)}` : why(runs.missing.resources)),
    figure("Estimated cost", runs.cost ? runs.cost.total.toFixed(2) : why(runs.missing.cost), "cost")));
  add(main, h("h3", {}, "Failures by cause"), runs.failures.length
    ? table(["cause", "detail", "runs"], runs.failures.map((f) => [f.cause, f.detail || "—", String(f.count)]), { class: "failure-causes" })
    : h("p", { class: "muted" }, "No run failed in this window."));
  add(main, h("h3", {}, "By template"), templates.length
    ? table(["template", "steps", "success rate", "top cause", "p50", "p95", "queue p95", "retries", "flaky"], templates.map((t) => [
      t.name, String(t.count), pct(t.success_rate, t.missing.success_rate),
      t.failures.length ? `${t.failures[0].cause}${t.failures[0].detail ? ` ${t.failures[0].detail}` : ""} (${t.failures[0].count})` : "—",
      t.duration ? fmtDuration(t.duration.p50_seconds) : "—", t.duration ? fmtDuration(t.duration.p95_seconds) : "—",
      t.queue ? fmtDuration(t.queue.p95_seconds) : "—", String(t.retries), String(t.flaky)]), { class: "template-stats" })
    : h("p", { class: "muted" }, "Its steps ran no templates in this window."));
  add(main, h("p", { class: "muted" }, `Percentiles within ${(100 * stats.percentile_relative_error).toFixed(1)} %; counts exact.`));
}

function figure(label, value, cls) {
  return [h("dt", {}, label), h("dd", cls ? { class: cls } : {}, value)];
}

function why(reason) {
  return h("span", { class: "muted", title: reason || "" }, `no data: ${reason || "none"}`);
}

function pct(rate, reason) {
  return rate === null ? why(reason) : `${(100 * rate).toFixed(1)} %`;
}

function pair(d, reason) {
  return d ? `${fmtDuration(d.p50_seconds)} / ${fmtDuration(d.p95_seconds)}` : why(reason);
}
