// KFP's output viewers for mlpipeline-ui-metadata, drawn without markup parsing: markdown as a
// tiny safe subset, CSV tables, a confusion matrix, an ROC curve (SVG), a web app's source as
// text. A source stored elsewhere (s3://, gs://, http) is named, not fetched: runledger reads only
// what it indexed.

import { h, s, table } from "./dom.js";

export function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell); cell = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
    } else cell += c;
  }
  row.push(cell);
  if (row.length > 1 || row[0] !== "") rows.push(row);
  return rows;
}

function inline(text) {
  // `code`, **bold**, [text](http...) — everything else stays text.
  const out = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\[([^\]]+)\]\((https?:\/\/[^)\s]+)\))/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(h("code", {}, m[1].slice(1, -1)));
    else if (m[2]) out.push(h("strong", {}, m[2].slice(2, -2)));
    else out.push(h("a", { href: m[5], rel: "noopener noreferrer nofollow", target: "_blank" }, m[4]));
    last = re.lastIndex;
  }
  out.push(text.slice(last));
  return out;
}

export function markdown(source) {
  const root = h("div", { class: "md" });
  const lines = String(source).split(/\r?\n/);
  let para = [], list = null;
  const flush = () => {
    if (para.length) root.append(h("p", {}, inline(para.join(" "))));
    para = [];
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      root.append(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    const item = line.match(/^\s*[-*]\s+(.*)$/);
    if (heading) { flush(); root.append(h(`h${Math.min(6, heading[1].length + 2)}`, {}, inline(heading[2]))); }
    else if (item) {
      if (para.length) flush();
      if (!list) { list = h("ul"); root.append(list); }
      list.append(h("li", {}, inline(item[1])));
    } else if (!line.trim()) flush();
    else { list = null; para.push(line.trim()); }
  }
  flush();
  return root;
}

function confusion(out) {
  const rows = parseCsv(out.source);
  const labels = Array.isArray(out.labels) ? out.labels.map(String) : [];
  const names = (out.schema || []).map((c) => c.name);
  const [ti, pi, ci] = ["target", "predicted", "count"].map((n, k) => (names.indexOf(n) >= 0 ? names.indexOf(n) : k));
  const counts = new Map();
  for (const r of rows) counts.set(`${r[ti]}\u0000${r[pi]}`, Number(r[ci]) || 0);
  const all = labels.length ? labels : [...new Set(rows.flatMap((r) => [r[ti], r[pi]]))];
  const max = Math.max(1, ...counts.values());
  return h("table", { class: "confusion" },
    h("caption", {}, "Confusion matrix: rows are the true class, columns the predicted one"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "target \\ predicted"), all.map((l) => h("th", { scope: "col" }, l)))),
    h("tbody", {}, all.map((t) => h("tr", {}, h("th", { scope: "row" }, t), all.map((p) => {
      const v = counts.get(`${t}\u0000${p}`) || 0;
      const strong = v / max > 0.5;
      return h("td", { class: "num", dataset: { level: String(Math.round((v / max) * 4)) } },
        strong ? h("strong", {}, String(v)) : String(v));
    })))));
}

function roc(out) {
  const rows = parseCsv(out.source).map((r) => [Number(r[0]), Number(r[1])]).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const size = 300, pad = 40;
  const sx = (v) => pad + v * (size - pad - 10), sy = (v) => size - pad - v * (size - pad - 10);
  const d = rows.map(([fx, ty], i) => `${i ? "L" : "M"}${sx(fx).toFixed(1)},${sy(ty).toFixed(1)}`).join(" ");
  let auc = 0;
  for (let i = 1; i < rows.length; i++) auc += (rows[i][0] - rows[i - 1][0]) * (rows[i][1] + rows[i - 1][1]) / 2;
  return h("figure", {},
    s("svg", { class: "chart", width: size, height: size, role: "img", "aria-label": `ROC curve, ${rows.length} points, AUC ${auc.toFixed(3)}` },
      s("line", { class: "axis", x1: pad, y1: size - pad, x2: size - 10, y2: size - pad }),
      s("line", { class: "axis", x1: pad, y1: size - pad, x2: pad, y2: 10 }),
      s("line", { x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1), stroke: "#8c959f", "stroke-dasharray": "4 4" }),
      s("path", { d, fill: "none", stroke: "#0550ae", "stroke-width": 2 }),
      s("text", { x: size / 2, y: size - 8, "text-anchor": "middle" }, "false positive rate"),
      s("text", { x: 12, y: size / 2, transform: `rotate(-90 12 ${size / 2})`, "text-anchor": "middle" }, "true positive rate")),
    h("figcaption", {}, `ROC curve (AUC ≈ ${auc.toFixed(3)})`));
}

export function viewer(out) {
  const type = String(out.type);
  const inlineSource = out.storage === "inline" && typeof out.source === "string";
  const title = h("h3", {}, type);
  if (!inlineSource) {
    return h("div", { class: "viewer" }, title,
      h("p", {}, "Stored at ", h("code", {}, String(out.source ?? "(no source)")), " — not read by runledger."));
  }
  let body;
  if (type === "markdown") body = markdown(out.source);
  else if (type === "table") {
    const rows = parseCsv(out.source);
    body = table(Array.isArray(out.header) ? out.header.map(String) : (rows.shift() || []), rows);
  } else if (type === "confusion_matrix") body = confusion(out);
  else if (type === "roc") body = roc(out);
  else if (type === "web-app") {
    // Not run at all. A frame would inherit this page's CSP (a srcdoc frame does), which refuses the
    // inline scripts and styles a web app is made of, and a frame of another origin would need a
    // second server; what is left worth showing is its source, as text.
    body = h("details", { class: "webapp" },
      h("summary", {}, "A web app: runledger does not run it (KFP would, in its own frame). Its HTML source:"),
      h("pre", {}, out.source));
  } else body = h("pre", {}, out.source);
  return h("div", { class: "viewer" }, title, body);
}
