// Small SVG charts (a time series, bars), each with a text alternative: the chart's aria-label and
// a <title> per mark, so the numbers are never only a picture.

import { fmtNumber, fmtTime, s } from "./dom.js";

export function timeSeries(points, { label, format = fmtNumber, width = 720, height = 220, colour = "#0550ae" }) {
  const pad = { l: 60, r: 12, t: 10, b: 28 };
  const svgEl = s("svg", { class: "chart", width, height, role: "img",
    "aria-label": `${label}: ${points.length} points${points.length ? `, last ${format(points[points.length - 1].v)}` : ""}` });
  if (!points.length) return svgEl;
  const ts = points.map((p) => p.t), vs = points.map((p) => p.v);
  const t0 = Math.min(...ts), t1 = Math.max(...ts, t0 + 1);
  let v0 = Math.min(...vs), v1 = Math.max(...vs);
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - ((v - v0) / (v1 - v0)) * (height - pad.t - pad.b);
  svgEl.append(
    s("line", { class: "axis", x1: pad.l, y1: height - pad.b, x2: width - pad.r, y2: height - pad.b }),
    s("line", { class: "axis", x1: pad.l, y1: pad.t, x2: pad.l, y2: height - pad.b }),
    s("text", { x: pad.l - 6, y: y(v1) + 4, "text-anchor": "end" }, format(v1)),
    s("text", { x: pad.l - 6, y: y(v0) + 4, "text-anchor": "end" }, format(v0)),
    s("text", { x: pad.l, y: height - 8 }, fmtTime(new Date(t0).toISOString())),
    s("text", { x: width - pad.r, y: height - 8, "text-anchor": "end" }, fmtTime(new Date(t1).toISOString())),
    s("path", { d: points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" "),
      fill: "none", stroke: colour, "stroke-width": 1.5 }));
  for (const p of points) {
    // A run that did not succeed is a red square, not only a red dot, and its title names its phase.
    const title = s("title", {}, `${p.label}: ${format(p.v)} (${fmtTime(new Date(p.t).toISOString())})${p.note ? `, ${p.note}` : ""}`);
    svgEl.append(p.bad
      ? s("rect", { class: "failed", x: x(p.t) - 4, y: y(p.v) - 4, width: 8, height: 8, fill: "#cf222e" }, title)
      : s("circle", { cx: x(p.t), cy: y(p.v), r: 3.5, fill: colour }, title));
  }
  return svgEl;
}

// groups: [{label, bars: [{label, value}]}] — one cluster per group, one bar per series.
export function bars(groups, { label, series, width = 720 }) {
  const palette = ["#0550ae", "#bc4c00", "#116329", "#8250df", "#a40e26", "#6c4400", "#1b7c83", "#57606a"];
  const barH = 16, gap = 10, labelW = 160;
  const height = groups.reduce((n, g) => n + g.bars.length * barH + gap, 30);
  const all = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => Number.isFinite(v));
  const lo = Math.min(0, ...all), hi = Math.max(0, ...all, lo + 1e-9);
  const x = (v) => labelW + ((v - lo) / (hi - lo)) * (width - labelW - 80);
  const svgEl = s("svg", { class: "chart", width, height, role: "img", "aria-label": label });
  let y = 6;
  for (const g of groups) {
    svgEl.append(s("text", { x: 0, y: y + 12, "font-weight": 600 }, g.label));
    for (const b of g.bars) {
      const colour = palette[series.indexOf(b.label) % palette.length];
      if (Number.isFinite(b.value)) {
        svgEl.append(s("rect", { x: Math.min(x(0), x(b.value)), y, width: Math.max(1, Math.abs(x(b.value) - x(0))), height: barH - 3, fill: colour },
          s("title", {}, `${g.label}, ${b.label}: ${fmtNumber(b.value)}`)),
        s("text", { x: Math.max(x(0), x(b.value)) + 4, y: y + 11 }, `${fmtNumber(b.value)} · ${b.label}`));
      } else {
        svgEl.append(s("text", { x: x(0) + 4, y: y + 11, fill: "#57606a" }, `— · ${b.label}`));
      }
      y += barH;
    }
    y += gap;
  }
  return svgEl;
}
