// A layered DAG: layout and a pannable, zoomable view (SVG for small graphs, canvas for big ones).
//
// The layout is deliberately simple and linear: layers by longest path (Kahn's topological order,
// O(V+E)), each layer ordered once by the mean position of its parents (a sort per layer), and a
// layer wider than `wrap` nodes folded into rows, so a 5,000-pod fan-out is a block of rows rather
// than a line 5,000 boxes long. No crossing minimisation beyond that: it is what keeps 5,000 nodes
// well under a frame's budget of layout time.

import { clear, h, phaseClass, phaseGlyph, s } from "./dom.js";

export const NODE_W = 176, NODE_H = 44, GAP_X = 20, GAP_Y = 44;
const CANVAS_OVER = 400; // nodes: past this, drawing to a canvas beats thousands of SVG elements
const COLOURS = {
  ok: ["#116329", "#dafbe1"], bad: ["#a40e26", "#ffebe9"], run: ["#0a3069", "#ddf4ff"],
  wait: ["#6c4400", "#fff8c5"], skip: ["#424a53", "#eaeef2"], none: ["#424a53", "#eaeef2"],
};

export function layout(ids, edges, { wrap = 40 } = {}) {
  const n = ids.length;
  const index = new Map(ids.map((id, i) => [id, i]));
  const out = Array.from({ length: n }, () => []);
  const inc = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    const i = index.get(a), j = index.get(b);
    if (i === undefined || j === undefined || i === j) continue;
    out[i].push(j);
    inc[j].push(i);
  }
  const layer = new Int32Array(n);
  const indeg = Int32Array.from(inc, (l) => l.length);
  const queue = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  let done = 0;
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    done++;
    for (const j of out[i]) {
      if (layer[i] + 1 > layer[j]) layer[j] = layer[i] + 1;
      if (--indeg[j] === 0) queue.push(j);
    }
  }
  let top = 0;
  for (let i = 0; i < n; i++) top = Math.max(top, layer[i]);
  if (done < n) for (let i = 0; i < n; i++) if (indeg[i] > 0) layer[i] = top + 1; // a cycle: park it below
  const layers = [];
  for (let i = 0; i < n; i++) (layers[layer[i]] ||= []).push(i);

  const frac = new Float64Array(n); // each node's place across its layer, 0..1
  const order = []; // nodes in reading order (layer by layer, left to right): what [ and ] walk
  const x = new Float64Array(n), y = new Float64Array(n);
  let rowY = 0, minX = 0, maxX = 0;
  for (const members of layers) {
    if (!members) continue;
    const key = (i) => {
      const ps = inc[i];
      if (!ps.length) return i / n;
      let sum = 0;
      for (const p of ps) sum += frac[p];
      return sum / ps.length;
    };
    const keyed = members.map((i) => [key(i), i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const perRow = Math.min(wrap, keyed.length);
    keyed.forEach(([, i], k) => {
      order.push(i);
      frac[i] = keyed.length > 1 ? k / (keyed.length - 1) : 0.5;
      const row = Math.floor(k / perRow), col = k % perRow;
      const inRow = Math.min(perRow, keyed.length - row * perRow);
      x[i] = (col - (inRow - 1) / 2) * (NODE_W + GAP_X);
      y[i] = rowY + row * (NODE_H + GAP_Y / 2);
      minX = Math.min(minX, x[i]);
      maxX = Math.max(maxX, x[i]);
    });
    rowY += Math.ceil(keyed.length / perRow) * (NODE_H + GAP_Y / 2) + GAP_Y / 2;
  }
  const rank = new Int32Array(n);
  order.forEach((i, r) => { rank[i] = r; });
  return { x, y, index, out, order, rank, minX: minX - NODE_W / 2, maxX: maxX + NODE_W / 2, maxY: Math.max(rowY, NODE_H) };
}

// The one face for SVG and canvas, so what is measured on a canvas is what the SVG draws.
const FACE = { "font-family": "system-ui, sans-serif" };
const LABEL_FONT = "600 12px system-ui, sans-serif", SUB_FONT = "11px system-ui, sans-serif";
const TEXT_W = NODE_W - 16;
let measurer = null;

// Cut to what fits the box as drawn (a count of characters does not: CJK and W are wide), with "…".
function fit(text, font) {
  measurer ||= document.createElement("canvas").getContext("2d");
  measurer.font = font;
  if (measurer.measureText(text).width <= TEXT_W) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (measurer.measureText(text.slice(0, mid) + "…").width <= TEXT_W) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + "…";
}

// A node's two lines as they fit, worked out once (the canvas repaints on every pan).
function fitted(nd) {
  nd.fitted ||= [fit(nd.label, LABEL_FONT), fit(`${nd.redacted ? "" : phaseGlyph(nd.phase) + " "}${nd.sub || ""}`, SUB_FONT)];
  return nd.fitted;
}

// nodes: [{id, label, sub, phase, dashed, double, redacted}]; edges: [[fromId, toId]].
export class GraphView {
  constructor(container, { nodes, edges, onSelect, describe = "graph", wrap }) {
    this.nodes = nodes;
    this.edges = edges;
    this.onSelect = onSelect;
    this.lay = layout(nodes.map((nd) => nd.id), edges, { wrap });
    this.k = 1; this.tx = 0; this.ty = 0;
    this.selected = -1;
    this.canvasMode = nodes.length > CANVAS_OVER;
    this.box = h("div", { class: "graph" });
    const tools = h("div", { class: "tools" },
      h("button", { type: "button", "aria-label": "zoom in", onclick: () => this.zoomBy(1.4) }, "+"),
      h("button", { type: "button", "aria-label": "zoom out", onclick: () => this.zoomBy(1 / 1.4) }, "−"),
      h("button", { type: "button", onclick: () => this.fit() }, "Fit"));
    this.status = h("span", { class: "legend", role: "status", "aria-live": "polite" },
      `${nodes.length} nodes · drag to pan, wheel or +/− to zoom, [ ] to step through nodes`);
    this.surface = this.canvasMode ? this.makeCanvas(describe) : this.makeSvg(describe);
    this.box.append(this.surface, tools, this.status);
    clear(container).append(this.box);
    this.bindInput();
    this.resizer = new ResizeObserver(() => { this.sizeCanvas(); this.draw(); });
    this.resizer.observe(this.box);
    requestAnimationFrame(() => { this.sizeCanvas(); this.fit(); });
  }

  destroy() {
    this.resizer.disconnect();
  }

  // --- SVG --------------------------------------------------------------------------------------------
  makeSvg(describe) {
    const { x, y, index } = this.lay;
    const view = s("g");
    const edgeLayer = s("g", { fill: "none", stroke: "#8c959f", "stroke-width": 1.2 });
    for (const [a, b] of this.edges) {
      const i = index.get(a), j = index.get(b);
      if (i === undefined || j === undefined) continue;
      const x1 = x[i], y1 = y[i] + NODE_H, x2 = x[j], y2 = y[j], my = (y1 + y2) / 2;
      edgeLayer.append(s("path", { d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}` }));
    }
    view.append(edgeLayer);
    this.groups = this.nodes.map((nd, i) => {
      const [fg, bg] = COLOURS[nd.redacted ? "none" : phaseClass(nd.phase)];
      const g = s("g", { class: "node", tabindex: 0, role: "button", transform: `translate(${x[i] - NODE_W / 2},${y[i]})`,
        "aria-label": `${nd.label}${nd.sub ? ", " + nd.sub : ""}` },
        s("rect", { class: "box", width: NODE_W, height: NODE_H, rx: 6, fill: bg, stroke: fg, "stroke-width": nd.double ? 3 : 1.5,
          "stroke-dasharray": nd.dashed || nd.redacted ? "5 3" : null }),
        s("text", { x: 8, y: 18, fill: "#1f2328", ...FACE, "font-size": 12, "font-weight": 600 }, fitted(nd)[0]),
        s("text", { x: 8, y: 35, fill: fg, ...FACE, "font-size": 11 }, fitted(nd)[1]),
        s("title", {}, `${nd.label}${nd.sub ? "\n" + nd.sub : ""}`));
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.select(i); }
      });
      g.addEventListener("focus", () => { this.focusIndex = i; });
      return g;
    });
    view.append(...this.groups);
    this.view = view;
    return s("svg", { role: "group", "aria-label": describe, tabindex: 0 }, view);
  }

  // --- canvas -----------------------------------------------------------------------------------------
  makeCanvas(describe) {
    return h("canvas", { tabindex: 0, role: "img",
      "aria-label": `${describe}: ${this.nodes.length} nodes drawn on a canvas; use [ and ] to step through them, Enter or Space to open one` });
  }

  sizeCanvas() {
    if (!this.canvasMode) return;
    const dpr = window.devicePixelRatio || 1;
    const w = this.box.clientWidth, hgt = this.box.clientHeight;
    if (this.surface.width !== Math.round(w * dpr)) this.surface.width = Math.round(w * dpr);
    if (this.surface.height !== Math.round(hgt * dpr)) this.surface.height = Math.round(hgt * dpr);
  }

  draw() {
    if (!this.canvasMode) {
      this.view.setAttribute("transform", `translate(${this.tx},${this.ty}) scale(${this.k})`);
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = null; this.paint(); });
  }

  paint() {
    const ctx = this.surface.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const { x, y, index } = this.lay;
    const { k, tx, ty } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.surface.width, this.surface.height);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * tx, dpr * ty);
    const vx0 = -tx / k - NODE_W, vy0 = -ty / k - NODE_H;
    const vx1 = (this.box.clientWidth - tx) / k + NODE_W, vy1 = (this.box.clientHeight - ty) / k + NODE_H;
    const visible = (i) => x[i] >= vx0 && x[i] <= vx1 && y[i] >= vy0 && y[i] <= vy1;
    ctx.strokeStyle = "#8c959f";
    ctx.lineWidth = 1 / Math.max(k, 0.2);
    ctx.beginPath();
    for (const [a, b] of this.edges) {
      const i = index.get(a), j = index.get(b);
      if (i === undefined || j === undefined || !(visible(i) || visible(j))) continue;
      ctx.moveTo(x[i], y[i] + NODE_H);
      ctx.lineTo(x[j], y[j]);
    }
    ctx.stroke();
    const text = k * NODE_H >= 18;
    for (let i = 0; i < this.nodes.length; i++) {
      if (!visible(i)) continue;
      const nd = this.nodes[i];
      const [fg, bg] = COLOURS[nd.redacted ? "none" : phaseClass(nd.phase)];
      ctx.fillStyle = bg;
      ctx.fillRect(x[i] - NODE_W / 2, y[i], NODE_W, NODE_H);
      ctx.strokeStyle = i === this.selected ? "#bf3989" : fg;
      ctx.lineWidth = i === this.selected ? 4 : nd.double ? 3 : 1.5;
      ctx.setLineDash(nd.dashed || nd.redacted ? [5, 3] : []);
      ctx.strokeRect(x[i] - NODE_W / 2, y[i], NODE_W, NODE_H);
      if (text) {
        ctx.fillStyle = "#1f2328";
        ctx.font = LABEL_FONT;
        ctx.fillText(fitted(nd)[0], x[i] - NODE_W / 2 + 8, y[i] + 18);
        ctx.fillStyle = fg;
        ctx.font = SUB_FONT;
        ctx.fillText(fitted(nd)[1], x[i] - NODE_W / 2 + 8, y[i] + 35);
      }
    }
    ctx.setLineDash([]);
  }

  hit(px, py) {
    const { x, y } = this.lay;
    const lx = (px - this.tx) / this.k, ly = (py - this.ty) / this.k;
    for (let i = 0; i < this.nodes.length; i++) {
      if (Math.abs(lx - x[i]) <= NODE_W / 2 && ly >= y[i] && ly <= y[i] + NODE_H) return i;
    }
    return -1;
  }

  // --- moving around ----------------------------------------------------------------------------------
  fit() {
    const { minX, maxX, maxY } = this.lay;
    const w = this.box.clientWidth || 800, hgt = this.box.clientHeight || 500;
    const k = Math.min(1.2, (w - 40) / (maxX - minX), (hgt - 40) / maxY);
    this.k = Math.max(0.01, k);
    this.tx = (w - (maxX - minX) * this.k) / 2 - minX * this.k;
    this.ty = 20;
    this.draw();
  }

  zoomBy(factor, cx = this.box.clientWidth / 2, cy = this.box.clientHeight / 2) {
    const k = Math.min(4, Math.max(0.01, this.k * factor));
    this.tx = cx - ((cx - this.tx) * k) / this.k;
    this.ty = cy - ((cy - this.ty) * k) / this.k;
    this.k = k;
    this.draw();
  }

  centreOn(i) {
    const k = Math.max(this.k, 0.8);
    this.k = k;
    this.tx = this.box.clientWidth / 2 - this.lay.x[i] * k;
    this.ty = this.box.clientHeight / 2 - (this.lay.y[i] + NODE_H / 2) * k;
    this.draw();
  }

  select(i, { centre = false, notify = true } = {}) {
    if (!this.canvasMode) {
      this.groups[this.selected]?.classList.remove("selected");
      this.groups[i]?.classList.add("selected");
    }
    this.selected = i;
    if (centre && i >= 0) this.centreOn(i);
    else this.draw();
    if (i >= 0) {
      const nd = this.nodes[i];
      this.status.textContent = `selected ${nd.label}${nd.sub ? " (" + nd.sub + ")" : ""}`;
      if (notify && this.onSelect) this.onSelect(nd);
    }
  }

  selectId(id, options) {
    const i = this.lay.index.get(id);
    if (i !== undefined) this.select(i, options);
  }

  bindInput() {
    const el = this.surface;
    let drag = null;
    el.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false, target: e.target };
    });
    el.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) el.setPointerCapture(e.pointerId);
      drag.moved = true;
      this.tx = drag.tx + dx;
      this.ty = drag.ty + dy;
      this.draw();
    });
    el.addEventListener("pointerup", (e) => {
      const was = drag;
      drag = null;
      if (!was || was.moved) return;
      let i = -1;
      if (this.canvasMode) {
        const r = el.getBoundingClientRect();
        i = this.hit(e.clientX - r.left, e.clientY - r.top);
      } else {
        const g = was.target.closest?.("g.node");
        i = g ? this.groups.indexOf(g) : -1;
      }
      if (i >= 0) this.select(i);
    });
    el.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      this.zoomBy(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    this.box.addEventListener("keydown", (e) => {
      const step = 60;
      const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[e.key] && (e.target === el)) {
        this.tx += moves[e.key][0]; this.ty += moves[e.key][1]; this.draw();
      } else if (e.key === "+" || e.key === "=") this.zoomBy(1.25);
      else if (e.key === "-") this.zoomBy(0.8);
      else if (e.key === "0") this.fit();
      else if (e.key === "]" || e.key === "[") {
        const { order, rank } = this.lay;
        const n = order.length;
        const from = this.selected < 0 ? (e.key === "]" ? -1 : 0) : rank[this.selected];
        const i = order[(from + (e.key === "]" ? 1 : n - 1)) % n];
        this.select(i, { centre: true, notify: false });
        if (!this.canvasMode) this.groups[i].focus();
      } else if ((e.key === "Enter" || e.key === " ") && e.target === el && this.selected >= 0) this.select(this.selected);
      else return;
      e.preventDefault();
    });
  }
}
