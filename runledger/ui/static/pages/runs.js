// /ui/ — the runs list: filters and sort in the URL (the API's own query vocabulary), keyset pages
// through the API's page tokens, and rows updated in place from the event feed.
//
// Keyset pages only go forward, so the way back is kept in the URL: `back` repeats the tokens of
// the pages walked to reach this one, oldest first, the first page as an empty value. A link (or a
// reload) keeps "Previous page"; the trail is capped, and a page whose trail was cut (or that was
// linked to with a bare page_token) offers the first page instead.

import { follow, get } from "../api.js";
import { add, clear, fmtNumber, fmtTime, h, notice, phaseBadge, runDuration, runHref } from "../dom.js";

// Query keys the page passes to /api/v1/runs as they are; `col` (the metric column) is the page's own.
const PASSED = new Set(["namespace", "phase", "pipeline", "kfp_run_id", "scheduled_workflow", "created_after",
  "created_before", "finished_after", "finished_before", "min_duration", "max_duration", "deleted", "label", "sort",
  "page_token", "limit"]);
const PHASES = ["", "Pending", "Running", "Succeeded", "Failed", "Error"];
const COMPARED = 50; // the most ids /api/v1/runs/compare takes at once
// Pages remembered for "Previous page"; tokens are up to a few hundred bytes and the whole URL
// must stay well under the 8 KiB request line servers accept.
const TRAIL = 12;

export function apiQuery(query) {
  const out = new URLSearchParams();
  for (const [k, v] of query) {
    if (PASSED.has(k) || k.startsWith("param.") || k.startsWith("metric.")) out.append(k, v);
  }
  return out;
}

// `accuracy>=0.9` <-> the query entry the API reads (key `metric.accuracy>`, value `0.9`).
function metricEntry(expr) {
  const eq = expr.indexOf("=");
  return eq < 0 ? [`metric.${expr}`, ""] : [`metric.${expr.slice(0, eq)}`, expr.slice(eq + 1)];
}

function metricText(key, value) {
  const name = key.slice("metric.".length);
  return value === "" && /[<>]/.test(name) ? name : `${name}=${value}`;
}

function words(text) {
  return text.split(/\s+/).filter(Boolean);
}

function filterForm(query, navigate) {
  const field = (name, label, value, attrs = {}) => h("label", {}, label,
    h("input", { name, value: value || "", ...attrs }));
  const params = [...query].filter(([k]) => k.startsWith("param.")).map(([k, v]) => `${k.slice(6)}=${v}`);
  const metrics = [...query].filter(([k]) => k.startsWith("metric.")).map(([k, v]) => metricText(k, v));
  const phase = h("select", { name: "phase" }, PHASES.map((p) =>
    h("option", { value: p, selected: query.get("phase") === p && p !== "" }, p || "any")));
  const local = (iso) => (iso ? iso.replace(/Z$/, "").slice(0, 16) : "");
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter runs" },
    field("namespace", "Namespace", query.get("namespace")),
    field("pipeline", "Pipeline", query.get("pipeline")),
    h("label", {}, "Phase", phase),
    field("label", "Labels (k=v, k, !k)", query.getAll("label").join(" "), { size: 18 }),
    field("param", "Parameters (name=value)", params.join(" "), { size: 16 }),
    field("metric", "Metrics (accuracy>=0.9)", metrics.join(" "), { size: 16 }),
    field("created_after", "Created after (UTC)", local(query.get("created_after")), { type: "datetime-local" }),
    field("created_before", "Created before (UTC)", local(query.get("created_before")), { type: "datetime-local" }),
    field("col", "Metric column", query.get("col"), { size: 10 }),
    h("button", { type: "submit" }, "Apply"),
    h("a", { href: "/ui/" }, "Clear"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const q = new URLSearchParams();
    for (const k of ["namespace", "pipeline", "phase"]) if (f.get(k)) q.set(k, f.get(k).trim());
    for (const l of words(f.get("label"))) q.append("label", l);
    for (const p of words(f.get("param"))) {
      const eq = p.indexOf("=");
      if (eq > 0) q.append(`param.${p.slice(0, eq)}`, p.slice(eq + 1));
    }
    for (const m of words(f.get("metric"))) q.append(...metricEntry(m));
    for (const k of ["created_after", "created_before"]) {
      const v = f.get(k);
      if (v) q.set(k, v.length === 16 ? `${v}:00Z` : `${v}Z`);
    }
    if (f.get("col")) q.set("col", f.get("col").trim());
    if (query.get("sort")) q.set("sort", query.get("sort"));
    navigate(`/ui/${q.toString() ? "?" + q : ""}`);
  });
  return form;
}

function sortHeader(label, key, query, navigate, { numeric = false } = {}) {
  const current = query.get("sort") || "-created_at";
  const active = current.replace(/^-/, "") === key;
  const descending = current.startsWith("-");
  const next = active && descending ? key : `-${key}`;
  const state = active ? (descending ? "descending" : "ascending") : "none";
  const button = h("button", { type: "button", class: "sort", onclick: () => {
    const q = new URLSearchParams(query);
    q.set("sort", next);
    q.delete("page_token");
    q.delete("back");
    navigate(`/ui/?${q}`);
  } }, label, active ? (descending ? " ↓" : " ↑") : "");
  return h("th", { scope: "col", "aria-sort": state, class: numeric ? "num" : null }, button);
}

function stepsText(counts) {
  const total = Object.values(counts || {}).reduce((a, b) => a + b, 0);
  const failed = (counts?.Failed || 0) + (counts?.Error || 0);
  return failed ? `${total} (${failed} failed)` : String(total);
}

function runCells(run, col) {
  return [
    h("td", {}, phaseBadge(run.phase)),
    h("td", {}, h("a", { href: runHref(run.id) }, run.name)),
    h("td", {}, run.namespace),
    h("td", {}, run.pipeline_name ? h("a", { href: `/ui/pipelines/${encodeURIComponent(run.pipeline_name)}` }, run.pipeline_name) : "—"),
    h("td", {}, fmtTime(run.created_at)),
    h("td", {}, fmtTime(run.finished_at)),
    h("td", { class: "num" }, runDuration(run)),
    h("td", { class: "num" }, stepsText(run.step_counts)),
    col ? h("td", { class: "num", "data-metric": col }, "…") : null,
  ];
}

function runRow(run, col, selected) {
  const box = h("input", { type: "checkbox", "aria-label": `select ${run.name} to compare`, checked: selected.has(run.id),
    onchange: (e) => { if (e.target.checked) selected.add(run.id); else selected.delete(run.id); selected.changed(); } });
  return h("tr", { dataset: { runId: run.id } }, h("td", {}, box), runCells(run, col));
}

// The same query at another page: `token` ("" or null for the first) reached through `trail`.
function pageHref(query, token, trail) {
  const q = new URLSearchParams(query);
  q.delete("page_token");
  q.delete("back");
  if (token) {
    q.set("page_token", token);
    for (const t of trail.slice(-TRAIL)) q.append("back", t);
  }
  return `/ui/${q.toString() ? "?" + q : ""}`;
}

function pagerLinks(query, nextToken) {
  const here = query.get("page_token");
  const trail = query.getAll("back");
  const links = [];
  if (here) {
    links.push(h("a", { href: pageHref(query, null, []) }, "First page"));
    if (trail.length) {
      const previous = trail[trail.length - 1];
      links.push(h("a", { href: pageHref(query, previous, trail.slice(0, -1)), rel: "prev" }, "Previous page"));
    }
  }
  if (nextToken) links.push(h("a", { href: pageHref(query, nextToken, [...trail, here || ""]), rel: "next" }, "Next page"));
  return links;
}

export async function render(main, { query, signal, navigate, setLive }) {
  const col = query.get("col");
  add(main, h("h1", {}, "Runs"), filterForm(query, navigate));
  const api = apiQuery(query);
  const asked = [...api].length > 0;
  if (!api.has("limit")) api.set("limit", "50");
  // What the URL asks for is checked first by the API's own rules, answered in a 200 (a 400 would be
  // logged as a failed load); the form stays, to be corrected. The plain first page needs no check.
  const check = asked ? await get("/api/v1/checks/runs", api, { signal }) : { ok: true };
  if (!check.ok) {
    add(main, notice(`These filters cannot be used: ${check.problems.join("; ")}. Correct them above, or clear them.`, "error"));
    return;
  }
  const status = h("p", { class: "muted", role: "status" });
  const tbody = h("tbody");
  const selected = new Set();
  const compare = h("button", { type: "button", disabled: true,
    onclick: () => navigate(`/ui/compare?ids=${[...selected].map(encodeURIComponent).join(",")}`) }, "Compare selected");
  selected.changed = () => {
    compare.disabled = selected.size < 2;
    compare.textContent = `Compare selected (${selected.size})`;
  };
  const thead = h("thead", {}, h("tr", {},
    h("th", { scope: "col" }, h("span", { class: "muted" }, "Pick")),
    h("th", { scope: "col" }, "Phase"), sortHeader("Name", "name", query, navigate),
    h("th", { scope: "col" }, "Namespace"), h("th", { scope: "col" }, "Pipeline"),
    sortHeader("Created", "created_at", query, navigate), sortHeader("Finished", "finished_at", query, navigate),
    sortHeader("Duration", "duration", query, navigate, { numeric: true }), h("th", { scope: "col", class: "num" }, "Steps"),
    col ? sortHeader(col, `metric.${col}`, query, navigate, { numeric: true }) : null));
  const pager = h("div", { class: "pager" });
  add(main, h("div", { class: "pager" }, compare, status), h("table", { class: "runs" }, thead, tbody), pager);

  const page = await get("/api/v1/runs", api, { signal });
  const rows = new Map();
  const show = (runs) => {
    clear(tbody);
    rows.clear();
    for (const run of runs) {
      const tr = runRow(run, col, selected);
      rows.set(run.id, tr);
      tbody.append(tr);
    }
    if (!runs.length) tbody.append(h("tr", {}, h("td", { colspan: 11 }, "No runs match these filters.")));
    status.textContent = `${runs.length} run${runs.length === 1 ? "" : "s"} on this page`;
    if (col) fillMetric(runs.map((r) => r.id));
  };
  const fillMetric = async (ids) => {
    // Compare takes at most COMPARED ids a call; a page may hold more (limit goes to the API's maximum).
    for (let i = 0; i < ids.length; i += COMPARED) {
      const chunk = ids.slice(i, i + COMPARED);
      let values = null;
      try {
        values = (await get("/api/v1/runs/compare", { ids: chunk.join(",") }, { signal })).metrics[col] || {};
      } catch (err) {
        if (err.name === "AbortError") return;
      }
      for (const id of chunk) {
        const cell = rows.get(id)?.querySelector("td[data-metric]");
        if (cell) cell.textContent = values === null ? "(not read)" : id in values ? fmtNumber(values[id]) : "—";
      }
    }
  };
  show(page.runs);
  clear(pager);
  pager.append(...pagerLinks(query, page.next_page_token));

  // Live: a run on this page is redrawn in place; a new run shows up on a first page sorted by
  // creation (elsewhere it would belong to some other page).
  const firstByCreation = !query.get("page_token") && (query.get("sort") || "-created_at") === "-created_at";
  const pending = new Set();
  let refresh = null;
  const flush = async () => {
    refresh = null;
    const ids = [...pending];
    pending.clear();
    if (ids.some((id) => !rows.has(id))) {
      if (firstByCreation) show((await get("/api/v1/runs", api, { signal })).runs);
      return;
    }
    for (const id of ids) {
      const run = await get(`/api/v1/runs/${encodeURIComponent(id)}`, null, { signal });
      const tr = rows.get(id);
      if (!tr) continue;
      const fresh = runRow(run, col, selected);
      tr.replaceWith(fresh);
      rows.set(id, fresh);
    }
    if (col) fillMetric(ids.filter((id) => rows.has(id)));
  };
  const feed = {};
  if (query.get("namespace")) feed.namespace = query.get("namespace");
  follow(feed, {
    signal,
    onState: (state) => setLive(state === "live" ? "● live" : state === "unauthorized" ? "" : "reconnecting…"),
    onEvent: (type, data) => {
      if (type !== "run") return;
      pending.add(data.run_id);
      if (!refresh) refresh = setTimeout(() => flush().catch(() => {}), 250);
    },
  });
  return () => clearTimeout(refresh);
}
