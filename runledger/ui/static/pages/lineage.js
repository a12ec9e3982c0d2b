// /ui/lineage?node=REF&direction=both&depth=3 — the lineage graph around a run, step or artifact.
// Clicking a node re-centres the graph on it; nodes of namespaces the caller cannot read are drawn
// as "redacted" and lead nowhere.

import { ApiError, get } from "../api.js";
import { add, artifactHref, facts, fmtBytes, h, lineageHref, phaseBadge, runHref } from "../dom.js";
import { GraphView } from "../graph.js";

function ref(node) {
  if (node.redacted) return null;
  return node.kind === "step" ? `step:${node.run_id}/${node.node_id}` : `artifact:${node.artifact_id}`;
}

function graphNode(node) {
  if (node.redacted) return { id: node.id, label: "redacted", sub: `a ${node.kind} you cannot read`, redacted: true };
  if (node.kind === "step") {
    return { id: node.id, label: node.display_name || node.name, sub: `${node.phase || "Unknown"} · ${node.run_name}`,
      phase: node.phase, double: node.root };
  }
  const name = node.names[0] || node.uri.split("/").pop();
  return { id: node.id, label: name, sub: `artifact · ${node.state}`, phase: node.state === "indexed" ? "Succeeded" : node.state === "pending" ? "Pending" : "Failed",
    double: node.root, dashed: true };
}

function controls(query, navigate) {
  const node = h("input", { id: "lineage-node", name: "node", value: query.get("node") || "", size: 60, required: true,
    placeholder: "run:<id>, step:<run id>/<node id>, artifact:<id or s3://uri>" });
  const direction = h("select", { id: "lineage-direction", name: "direction" }, ["both", "upstream", "downstream"].map((d) =>
    h("option", { value: d, selected: (query.get("direction") || "both") === d }, d)));
  const depth = h("input", { id: "lineage-depth", name: "depth", type: "number", min: 1, max: 100, value: query.get("depth") || "3" });
  return h("form", { class: "inline-form", onsubmit: (e) => {
    e.preventDefault();
    navigate(lineageHref(node.value.trim(), { direction: direction.value, depth: depth.value }));
  } },
  h("label", { for: "lineage-node" }, "Node", node), h("label", { for: "lineage-direction" }, "Direction", direction),
  h("label", { for: "lineage-depth" }, "Depth", depth), h("button", { type: "submit" }, "Show"));
}

function rootFacts(node) {
  if (!node || node.redacted) return null;
  if (node.kind === "step") {
    return facts([["Step", h("a", { href: runHref(node.run_id, node.node_id) }, node.display_name || node.name)],
      ["Phase", phaseBadge(node.phase)], ["Run", h("a", { href: runHref(node.run_id) }, node.run_name)],
      ["Namespace", node.namespace], ["Pipeline", node.pipeline_name]]);
  }
  return facts([["Artifact", h("a", { href: artifactHref(node.artifact_id) }, node.uri)], ["State", node.state],
    ["Size", fmtBytes(node.size)], ["Names", node.names.join(", ")]]);
}

export async function render(main, { query, signal, navigate }) {
  add(main, h("h1", {}, "Lineage"), controls(query, navigate));
  const node = query.get("node");
  if (!node) {
    add(main, h("p", { class: "muted" }, "Open a run, step or artifact and follow its lineage link, or name a node above."));
    return;
  }
  const params = { node, direction: query.get("direction") || "both", depth: query.get("depth") || "3" };
  // Checked first by the API's own rules, answered in a 200: a 400 would be logged as a failed load.
  const check = await get("/api/v1/checks/lineage", params, { signal });
  if (!check.ok) throw check.missing ? new ApiError(404, "not_found", check.problems.join("; "))
    : new ApiError(400, "bad_request", check.problems.join("; "));
  const graph = await get("/api/v1/lineage", params, { signal });
  const root = graph.nodes.find((n) => n.id === graph.root);
  const box = h("div");
  add(main, 
    h("p", {}, `${graph.nodes.length} nodes, ${graph.edges.length} edges, ${graph.direction}, depth ${graph.depth}`,
      graph.truncated ? " — truncated: lower the depth to see all of it" : "",
      node.startsWith("run:") ? [" · ", h("a", { href: runHref(node.slice(4)) }, "open the run")] : ""),
    rootFacts(root), box,
    h("p", { class: "muted" }, "Click a node (or focus it and press Enter) to centre the lineage on it. Double borders: where it starts; dashed: artifacts and redacted nodes."));
  if (!graph.nodes.length) {
    box.append(h("p", { class: "muted" }, "Nothing recorded around this node."));
    return;
  }
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const view = new GraphView(box, {
    nodes: graph.nodes.map(graphNode),
    edges: graph.edges.map((e) => [e.source, e.target]),
    describe: "lineage graph",
    onSelect: (nd) => {
      const target = ref(byId.get(nd.id));
      if (target) navigate(lineageHref(target, { direction: params.direction, depth: params.depth }));
    },
  });
  return () => view.destroy();
}
