// /ui/runs/{id}[?step=node] — one run: header, step graph, timeline and the selected step's panel.
// Live while running: transitions of this run refetch it (debounced) and redraw in place.

import { ApiError, follow, get, getText, openWithToken } from "../api.js";
import {
  add, artifactHref, clear, facts, fmtBytes, fmtDuration, fmtNumber, fmtTime, h, lineageHref, notice, phaseBadge,
  phaseClass, runDuration, runHref, s, seconds, table,
} from "../dom.js";
import { GraphView } from "../graph.js";
import { fold, foldable, inside, membership } from "../groups.js";

const LOG_TAIL = 64 * 1024; // bytes of a step's log the panel shows: its end, where a failure says why
const GROUPS = new Set(["StepGroup", "TaskGroup", "DAG", "Steps"]);
const TERMINAL = new Set(["Succeeded", "Failed", "Error"]);
const GANTT_COLOURS = { ok: "#2da44e", bad: "#cf222e", run: "#0969da", wait: "#bf8700", skip: "#8c959f", none: "#8c959f" };

function header(run) {
  const params = Object.entries(run.parameters || {});
  const metrics = (run.metrics || []).filter((m) => m.is_run_value);
  return h("section", { "aria-label": "run" },
    h("h1", {}, run.name, " ", phaseBadge(run.phase)),
    facts([
      ["Namespace", run.namespace],
      ["Phase", run.phase || "(not picked up yet)"],
      ["Message", run.message, "message"],
      ["Failed step", run.failed_step ? h("a", { href: runHref(run.id, run.failed_step.id) }, run.failed_step.name) : null],
      ["Failure", run.failure && run.failure !== run.message ? run.failure : null, "message"],
      ["Stopping", run.shutdown],
      ["Created", fmtTime(run.created_at)],
      ["Started", fmtTime(run.started_at)],
      ["Finished", fmtTime(run.finished_at)],
      ["Duration", runDuration(run)],
      ["Pipeline", run.pipeline_name ? h("a", { href: `/ui/pipelines/${encodeURIComponent(run.pipeline_name)}` }, run.pipeline_name) : null],
      ["KFP run id", run.kfp_run_id],
      ["Recurring run", run.scheduled_workflow],
      ["Run id", run.id],
      ["Deleted", run.deleted ? `yes, ${fmtTime(run.deleted_at)}` : null],
      ["Steps", Object.entries(run.step_counts || {}).map(([p, c]) => `${c} ${p}`).join(", ") || "none recorded"],
      ["Links", h("span", {}, h("a", { href: lineageHref(`run:${run.id}`) }, "lineage"), " · ",
        h("a", { href: `/api/v1/runs/${encodeURIComponent(run.id)}`, onclick: openWithToken }, "JSON"))],
    ]),
    run.nodes_offloaded ? notice("This run's steps were offloaded to Argo's database and are not recorded.") : null,
    h("div", { class: "cols" },
      h("div", {}, h("h2", {}, "Parameters"),
        params.length ? table(["name", "value"], params.map(([k, v]) => [k, v ?? "—"]), { class: "params" }) : h("p", { class: "muted" }, "none")),
      h("div", {}, h("h2", {}, "Metrics"),
        metrics.length ? table(["name", "value", "format"], metrics.map((m) => [m.name, fmtNumber(m.value), m.format]), { class: "metrics" })
          : h("p", { class: "muted" }, "none"))));
}

function stepNodes(steps, held) {
  return steps.map((st) => {
    const kind = st.type === "Pod" ? "" : ` · ${st.type}`;
    const attempts = st.type === "Retry" ? ` · ${st.children.length} attempt${st.children.length === 1 ? "" : "s"}` : "";
    // A folded group says how much it holds before what kind it is: the box has room for one line.
    const sub = held.has(st.id) ? `${st.phase || "Unknown"} · ${held.get(st.id)} folded${kind}` : `${st.phase || "Unknown"}${kind}${attempts}`;
    return { id: st.id, label: st.display_name || st.name, sub, phase: st.phase,
      dashed: st.phase === "Skipped" || st.phase === "Omitted", double: st.type === "Retry" || held.has(st.id) };
  });
}

function ioTables(io, title, runId) {
  const parts = [h("h3", {}, title)];
  if (io.parameters.length) {
    parts.push(table(["parameter", "value"], io.parameters.map((p) => [p.name, (p.value ?? "—") + (p.truncated ? " (truncated)" : "")])));
  }
  if (io.artifacts.length) {
    parts.push(table(["artifact", "state", "size"], io.artifacts.map((a) => [
      a.artifact_id !== null ? h("a", { href: artifactHref(a.artifact_id) }, a.name) : h("span", {}, a.name, " ", h("span", { class: "muted" }, a.uri || a.path || "")),
      a.state || (a.artifact_id === null ? "not in S3" : "—"),
      a.size !== null ? fmtBytes(a.size) : "—",
    ])));
  }
  if (!io.parameters.length && !io.artifacts.length) parts.push(h("p", { class: "muted" }, "none"));
  return parts;
}

// The log Argo archived (archiveLogs: the output artifact main-logs), read only once it is indexed in S3.
function logSection(step, run, signal) {
  const ref = step.outputs.artifacts.find((a) => a.name === "main-logs");
  if (!ref) return null;
  const title = h("h3", {}, "Log");
  if (ref.state !== "indexed") {
    const waiting = ref.state === "pending" || ref.state === null;
    return [title, notice(waiting ? "The archived log is not indexed yet: it shows once the indexer has checked it."
      : `The archived log is not in S3 (${ref.state}).`)];
  }
  const logPath = `/api/v1/runs/${encodeURIComponent(run.id)}/steps/${encodeURIComponent(step.id)}/logs`;
  const pre = h("pre", { class: "log", tabindex: 0, "aria-label": `log of ${step.display_name || step.name}` }, "Loading the log…");
  const note = h("p", { class: "muted" });
  getText(logPath, null, { signal, range: `bytes=-${LOG_TAIL}` }).then(({ text, response }) => {
    pre.textContent = text;
    const size = Number(response.headers.get("X-Log-Size"));
    if (size > LOG_TAIL) note.textContent = `Its last ${fmtBytes(LOG_TAIL)} of ${fmtBytes(size)}:`;
  }, (err) => {
    if (err.name !== "AbortError") pre.textContent = `The log could not be read: ${err.message}`;
  });
  return [title, note, pre, h("p", {}, h("a", { href: logPath, onclick: openWithToken }, "the whole log"), " (plain text)")];
}

function stepPanel(step, run, { signal, groupToggle }) {
  if (!step) return h("p", { class: "muted" }, "Select a step in the graph, the timeline or the finder to see it here.");
  const pod = step.pod;
  const reason = pod?.termination_reason;
  return h("div", { class: "step" },
    h("h2", {}, step.display_name || step.name, " ", phaseBadge(step.phase)),
    groupToggle(step),
    facts([
      ["Phase", step.phase || "Unknown"],
      ["Type", step.type],
      ["Template", step.template],
      ["Node id", step.id],
      ["Started", fmtTime(step.started_at)],
      ["Finished", fmtTime(step.finished_at)],
      ["Duration", step.started_at ? fmtDuration(seconds(step.started_at, step.finished_at)) : null],
      ["Message", step.message, "message"],
      ["Exit code", step.exit_code ?? pod?.exit_code ?? null],
      ["Node", step.host_node || pod?.host_node],
      ["Lineage", h("a", { href: lineageHref(`step:${run.id}/${step.id}`) }, "this step's lineage")],
    ]),
    pod ? [h("h3", {}, "Pod"), facts([
      ["Pod", pod.pod_name],
      ["Pod phase", pod.phase],
      ["Image", pod.image],
      ["Node", pod.host_node],
      ["Exit code", pod.exit_code],
      ["Terminated", reason ? h("span", { class: /OOMKilled|Evicted/.test(reason) ? "warn" : null }, reason) : null],
      ["Restarts", String(pod.restart_count)],
      ["Requests", Object.entries(pod.requests).map(([k, v]) => `${k}=${v}`).join(", ")],
      ["Limits", Object.entries(pod.limits).map(([k, v]) => `${k}=${v}`).join(", ")],
      ["Deleted", pod.deleted ? "yes" : null],
    ])] : null,
    ioTables(step.inputs, "Inputs", run.id),
    ioTables(step.outputs, "Outputs", run.id),
    logSection(step, run, signal));
}

// The timeline holds every started step, one row each, in a scrolling box. Only the rows in sight
// (and a few either side) are in the DOM, so a 5,000-step run costs what 40 rows do; the SVG keeps
// the whole height, so the scroll bar tells where one is. Every drawn bar is a tab stop, and a bar
// that takes focus is scrolled into sight with its neighbours drawn, so Tab walks on through the
// rows; arrows, Page Up/Down, Home and End move a row, a page or to either end.
const GANTT_ROW_H = 20, GANTT_TOP = 22, GANTT_AROUND = 10;

function gantt(steps, onPick) {
  const rows = steps.filter((st) => st.started_at && !GROUPS.has(st.type))
    .sort((a, b) => a.started_at.localeCompare(b.started_at) || a.id.localeCompare(b.id));
  if (!rows.length) return h("p", { class: "muted" }, "No step has started.");
  const t0 = Date.parse(rows[0].started_at);
  const t1 = rows.reduce((t, st) => Math.max(t, st.finished_at ? Date.parse(st.finished_at) : Date.now()), t0 + 1000);
  // Room right of the bars for the longest phase and duration ("Succeeded 23 h 59 min").
  const labelW = 230, width = 900, rowH = GANTT_ROW_H, noteW = 140, plotW = width - labelW - noteW;
  const scale = (t) => labelW + ((t - t0) / (t1 - t0)) * plotW;
  const svgEl = s("svg", { class: "chart", width, height: rows.length * rowH + GANTT_TOP + 2, role: "img",
    "aria-label": `timeline of ${rows.length} steps` });
  svgEl.append(s("text", { x: labelW, y: 14 }, fmtTime(new Date(t0).toISOString())),
    s("text", { x: width - 10, y: 14, "text-anchor": "end" }, `+${fmtDuration((t1 - t0) / 1000)}`));
  const bars = s("g", {});
  svgEl.append(bars);
  const box = h("div", { class: "gantt" }, svgEl);
  const drawn = new Map(); // row index -> its <g>

  const bar = (r) => {
    const st = rows[r];
    const y = GANTT_TOP + r * rowH;
    const a = scale(Date.parse(st.started_at));
    const b = scale(st.finished_at ? Date.parse(st.finished_at) : Date.now());
    const label = st.display_name || st.name;
    const g = s("g", { class: "bar", tabindex: 0, role: "button", "data-row": r,
      "aria-label": `${label}: ${st.phase || "Unknown"}, ${fmtDuration(seconds(st.started_at, st.finished_at))}` },
      s("text", { x: 4, y: y + 13 }, label.length > 30 ? label.slice(0, 29) + "…" : label),
      s("rect", { x: a, y: y + 3, width: Math.max(2, b - a), height: rowH - 6, fill: GANTT_COLOURS[phaseClass(st.phase)] }),
      s("text", { x: Math.min(b + 4, width - noteW + 4), y: y + 13, fill: "#57606a" }, `${st.phase} ${fmtDuration(seconds(st.started_at, st.finished_at))}`),
      s("title", {}, `${label}: ${st.phase}, ${fmtTime(st.started_at)} → ${fmtTime(st.finished_at)}`));
    g.addEventListener("click", () => onPick(st.id));
    g.addEventListener("focus", () => reveal(r));
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onPick(st.id); return; }
      const page = Math.max(1, Math.floor(box.clientHeight / rowH) - 1);
      const to = { ArrowDown: r + 1, ArrowUp: r - 1, PageDown: r + page, PageUp: r - page, Home: 0, End: rows.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      focusRow(Math.max(0, Math.min(rows.length - 1, to)));
    });
    return g;
  };

  // Draws rows [lo, hi) and drops the rest. Rows already drawn stay where they are (a focused bar
  // removed and put back would lose its focus); new ones go before or after them, in row order.
  const drawWindow = () => {
    const seen = box.clientHeight || 420;
    const lo = Math.max(0, Math.floor((box.scrollTop - GANTT_TOP) / rowH) - GANTT_AROUND);
    const hi = Math.min(rows.length, Math.ceil((box.scrollTop + seen) / rowH) + GANTT_AROUND);
    for (const [r, g] of drawn) {
      if (r < lo || r >= hi) { g.remove(); drawn.delete(r); }
    }
    const first = drawn.size ? Math.min(...drawn.keys()) : hi;
    const before = [];
    for (let r = lo; r < Math.min(first, hi); r++) before.push(bar(r));
    for (const g of before) drawn.set(Number(g.dataset.row), g);
    bars.prepend(...before);
    for (let r = drawn.size ? Math.max(...drawn.keys()) + 1 : lo; r < hi; r++) {
      const g = bar(r);
      drawn.set(r, g);
      bars.append(g);
    }
  };
  // Brings row r into sight (as little scrolling as will do) and draws what is around it.
  const reveal = (r) => {
    const top = GANTT_TOP + r * rowH;
    if (top < box.scrollTop) box.scrollTop = top - GANTT_TOP;
    else if (top + rowH > box.scrollTop + box.clientHeight) box.scrollTop = top + rowH - box.clientHeight;
    drawWindow();
  };
  const focusRow = (r) => {
    reveal(r);
    drawn.get(r)?.focus({ preventScroll: true });
  };
  box.addEventListener("scroll", () => requestAnimationFrame(drawWindow), { passive: true });
  drawWindow();
  return h("div", {}, box,
    rows.length > 1 ? h("p", { class: "muted" }, `${rows.length} steps by start time; on a bar, ↑ ↓, Page Up/Down, Home and End move through them.`) : null);
}

// Asked through compare, which names an unknown (or unreadable) id as missing in a 200: the browser
// logs every fetch answered 404 as a console error, and a stale link is no error of the page's.
async function mustExist(id, signal) {
  if (id.includes(",")) return;
  const { missing } = await get("/api/v1/runs/compare", { ids: id }, { signal });
  if (missing.length) throw new ApiError(404, "not_found", `There is no run with the id ${id}.`);
}

export async function render(main, { args: [id], query, signal, setLive }) {
  const path = `/api/v1/runs/${encodeURIComponent(id)}`;
  await mustExist(id, signal);
  const load = () => Promise.all([get(path, null, { signal }), get(`${path}/steps`, null, { signal })]);
  let [run, { steps }] = await load();
  document.title = `${run.name} · runledger`;

  const top = h("div");
  const graphBox = h("div");
  const panel = h("aside", { class: "panel", "aria-label": "selected step", "aria-live": "polite" });
  const timeline = h("div");
  const listId = "step-names";
  const names = h("datalist", { id: listId });
  // Thousands of <option>s cost more than the graph: the suggestions are built when first wanted.
  let named = null;
  const suggest = () => {
    if (named === steps) return;
    named = steps;
    clear(names).append(...steps.map((st) => h("option", { value: st.display_name || st.name })));
  };
  const finder = h("input", { id: "find-step", list: listId, size: 30, placeholder: "step name", onfocus: suggest, oninput: suggest });
  const finderForm = h("form", { class: "inline-form", onsubmit: (e) => {
    e.preventDefault();
    const wanted = finder.value.trim();
    const st = steps.find((x) => (x.display_name || x.name) === wanted || x.id === wanted || x.name === wanted);
    if (st) pick(st.id, { centre: true });
  } }, h("label", { for: "find-step" }, "Find a step"), finder, names, h("button", { type: "submit" }, "Show"),
  h("button", { type: "button", onclick: () => refold(foldable(steps, members)) }, "Collapse groups"),
  h("button", { type: "button", onclick: () => refold([]) }, "Expand all"));
  add(main, top, h("h2", {}, "Steps"), finderForm,
    h("div", { class: "cols" }, graphBox, panel), h("h2", {}, "Timeline"), timeline);

  let view = null;
  let selectedId = query.get("step");
  let members = new Map();
  let folded = null;
  let collapsed = new Set();
  // A step folded away is shown by the group that holds it.
  const drawnAs = (stepId) => folded?.shownAs.get(stepId) ?? stepId;
  const groupToggle = (step) => {
    if (!members.has(step.id)) return null;
    const n = inside(step.id, members).size;
    const open = !collapsed.has(step.id);
    return h("p", {}, h("button", { type: "button", "aria-expanded": String(open), onclick: () => {
      const next = new Set(collapsed);
      if (open) next.add(step.id);
      else next.delete(step.id);
      refold(next);
    } }, `${open ? "Collapse" : "Expand"} the ${n} step${n === 1 ? "" : "s"} inside`));
  };
  const showPanel = () => clear(panel).append(stepPanel(steps.find((st) => st.id === selectedId), run, { signal, groupToggle }));

  function pick(stepId, { centre = false } = {}) {
    selectedId = stepId;
    const url = new URL(location.href);
    url.searchParams.set("step", stepId);
    history.replaceState(null, "", url.pathname + url.search);
    view?.selectId(drawnAs(stepId), { centre, notify: false });
    showPanel();
  }

  function drawGraph({ keepView }) {
    const keep = keepView && view && { k: view.k, tx: view.tx, ty: view.ty };
    view?.destroy();
    view = null;
    members = membership(steps);
    folded = fold(steps, collapsed, members);
    if (!steps.length) {
      clear(graphBox).append(h("p", { class: "muted" }, "No steps recorded."));
      return;
    }
    view = new GraphView(graphBox, { nodes: stepNodes(folded.shown, folded.held), edges: folded.edges,
      onSelect: (nd) => pick(nd.id), describe: `step graph of ${run.name}` });
    if (keep) requestAnimationFrame(() => requestAnimationFrame(() => { Object.assign(view, keep); view.draw(); }));
    if (selectedId) requestAnimationFrame(() => requestAnimationFrame(() => view?.selectId(drawnAs(selectedId), { centre: !keep, notify: false })));
  }

  function refold(groups) {
    collapsed = new Set(groups);
    drawGraph({ keepView: false });
    showPanel();
  }

  function draw() {
    clear(top).append(header(run));
    if (named) suggest();
    drawGraph({ keepView: true });
    // A live redraw keeps the timeline where it was scrolled to.
    const scrolled = timeline.querySelector(".gantt")?.scrollTop || 0;
    clear(timeline).append(gantt(steps, (stepId) => pick(stepId, { centre: true })));
    const box = timeline.querySelector(".gantt");
    if (box && scrolled) box.scrollTop = scrolled;
    showPanel();
  }
  draw();

  if (TERMINAL.has(run.phase)) return null;
  let timer = null;
  follow({ run: id }, {
    signal,
    onState: (state) => setLive(state === "live" ? "● live" : state === "unauthorized" ? "" : "reconnecting…"),
    onEvent: () => {
      if (timer) return;
      timer = setTimeout(async () => {
        timer = null;
        try {
          [run, { steps }] = await load();
          draw();
        } catch { /* the next event tries again */ }
      }, 300);
    },
  });
  return () => clearTimeout(timer);
}
