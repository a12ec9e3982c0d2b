// /ui/compare?ids=a,b,c — parameters and metrics side by side, differences marked, metrics as bars.

import { get } from "../api.js";
import { add, fmtNumber, h, phaseBadge, runHref } from "../dom.js";
import { bars } from "../charts.js";

function differs(values) {
  return new Set(values.map((v) => (v === undefined ? "\u0000absent" : String(v)))).size > 1;
}

function grid(title, data, runs, show) {
  const names = Object.keys(data).sort();
  if (!names.length) return [h("h2", {}, title), h("p", { class: "muted" }, "none")];
  return [h("h2", {}, title), h("table", { class: `compare ${title.toLowerCase()}` },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "name"), runs.map((r) => h("th", { scope: "col" }, r.name)))),
    h("tbody", {}, names.map((name) => {
      const values = runs.map((r) => data[name][r.id]);
      const diff = differs(values);
      return h("tr", { class: diff ? "differs" : null, title: diff ? "values differ" : null },
        h("th", { scope: "row" }, name, diff ? h("span", { class: "visually-hidden" }, " (differs)") : null),
        values.map((v) => h("td", {}, v === undefined ? h("span", { class: "muted" }, "not set") : show(v))));
    })))];
}

export async function render(main, { query, signal, navigate }) {
  add(main, h("h1", {}, "Compare runs"));
  const ids = (query.get("ids") || "").split(",").map((x) => x.trim()).filter(Boolean);
  const input = h("input", { id: "compare-ids", size: 80, value: ids.join(","), placeholder: "run ids, comma-separated" });
  add(main, h("form", { class: "inline-form", onsubmit: (e) => {
    e.preventDefault();
    navigate(`/ui/compare?ids=${input.value.split(",").map((x) => encodeURIComponent(x.trim())).filter(Boolean).join(",")}`);
  } }, h("label", { for: "compare-ids" }, "Runs", input), h("button", { type: "submit" }, "Compare")));
  if (!ids.length) {
    add(main, h("p", { class: "muted" }, "Pick runs with the checkboxes of the runs list, or paste their ids."));
    return;
  }
  const cmp = await get("/api/v1/runs/compare", { ids: ids.join(",") }, { signal });
  const runs = cmp.runs;
  add(main, 
    h("table", { class: "compare-runs" }, h("thead", {}, h("tr", {}, ["run", "namespace", "pipeline", "phase"].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, runs.map((r) => h("tr", {}, h("td", {}, h("a", { href: runHref(r.id) }, r.name)), h("td", {}, r.namespace),
        h("td", {}, r.pipeline_name || "—"), h("td", {}, phaseBadge(r.phase)))))),
    cmp.missing.length ? h("p", { class: "notice" }, `Not found: ${cmp.missing.join(", ")}`) : null,
    h("p", { class: "muted" }, "Rows whose values differ are highlighted and marked ≠."),
    grid("Parameters", cmp.parameters, runs, (v) => (v === null ? "null" : String(v))),
    grid("Metrics", cmp.metrics, runs, fmtNumber));
  const metricNames = Object.keys(cmp.metrics).sort();
  if (metricNames.length) {
    add(main, h("h2", {}, "Metrics chart"), bars(metricNames.map((m) => ({
      label: m, bars: runs.map((r) => ({ label: r.name, value: cmp.metrics[m][r.id] })),
    })), { label: `metrics of ${runs.length} runs as bars`, series: runs.map((r) => r.name) }));
  }
}
