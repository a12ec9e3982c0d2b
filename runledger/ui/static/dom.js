// Building DOM without ever parsing markup: every value from a Workflow is untrusted text, so it
// only ever reaches the page through createElement and textContent (never innerHTML).

const SVG_NS = "http://www.w3.org/2000/svg";

// Appends children, flattening arrays and leaving out null/undefined/false (DOM's append would
// print them as text).
export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "class") el.setAttribute("class", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// --- phases: colour AND text, never colour alone ---------------------------------------------------

const PHASE_CLASS = {
  Succeeded: "ok", Failed: "bad", Error: "bad", Running: "run", Pending: "wait",
  Skipped: "skip", Omitted: "skip",
};
const PHASE_GLYPH = { ok: "✓", bad: "✗", run: "▶", wait: "…", skip: "–", none: "?" };

export function phaseClass(phase) {
  return PHASE_CLASS[phase] || "none";
}

export function phaseGlyph(phase) {
  return PHASE_GLYPH[phaseClass(phase)];
}

export function phaseBadge(phase) {
  const shown = phase || "Unknown";
  return h("span", { class: `phase phase-${phaseClass(phase)}`, title: `phase: ${shown}` },
    h("span", { "aria-hidden": "true" }, phaseGlyph(phase) + " "), shown);
}

// --- times -------------------------------------------------------------------------------------------

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}

export function seconds(start, end) {
  if (!start) return null;
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : Date.now();
  return Number.isNaN(a) || Number.isNaN(b) ? null : Math.max(0, (b - a) / 1000);
}

export function fmtDuration(secs) {
  if (secs === null || secs === undefined) return "—";
  if (secs < 60) return `${secs.toFixed(secs < 10 ? 1 : 0)} s`;
  const m = Math.floor(secs / 60), sec = Math.round(secs % 60);
  if (m < 60) return `${m} min ${sec} s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr} h ${m % 60} min`;
  return `${Math.floor(hr / 24)} d ${hr % 24} h`;
}

const FINAL = new Set(["Succeeded", "Failed", "Error"]);

export function runDuration(run) {
  // Finished by its phase but with no time recorded: unknown, not a duration still counting up.
  if (!run.finished_at && FINAL.has(run.phase)) return "— (no finish time recorded)";
  const text = fmtDuration(seconds(run.started_at || run.created_at, run.finished_at));
  return run.finished_at || !run.started_at ? text : `${text} (running)`;
}

export function fmtNumber(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "number") return String(v);
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/0+$/, "").replace(/\.$/, "");
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]} (${n} B)`;
}

// --- small pieces every page uses -------------------------------------------------------------------

export function link(href, ...children) {
  return h("a", { href }, ...children);
}

export function runHref(id, step) {
  return `/ui/runs/${encodeURIComponent(id)}` + (step ? `?step=${encodeURIComponent(step)}` : "");
}

export function artifactHref(id) {
  return `/ui/artifacts/${encodeURIComponent(id)}`;
}

export function lineageHref(node, extra = {}) {
  const q = new URLSearchParams({ node, ...extra });
  return `/ui/lineage?${q}`;
}

export function facts(rows) {
  // A definition list of [label, value, class?] rows; null values are left out.
  return h("dl", { class: "facts" },
    rows.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v, cls]) => [h("dt", {}, k), h("dd", { class: cls }, v)]));
}

export function table(headers, rows, attrs = {}) {
  return h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

export function notice(text, kind = "info") {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
