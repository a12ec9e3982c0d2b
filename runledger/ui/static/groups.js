// Folding a run's step groups: a collapsed group stands in the graph for every step inside it.
//
// What is inside a group is what Argo says is: the steps whose boundary it is (a DAG's or Steps'
// template) and its children when it is a group node (a step group's pods, a retry's attempts), and
// what is inside those in turn. Edges to or from a folded step are drawn to its group instead, so
// the graph keeps its shape around the fold.

export const GROUP_TYPES = new Set(["StepGroup", "TaskGroup", "DAG", "Steps", "Retry"]);

// group id -> ids directly inside it.
export function membership(steps) {
  const byId = new Map(steps.map((st) => [st.id, st]));
  const direct = new Map();
  const put = (group, id) => {
    if (group === id) return;
    if (!direct.has(group)) direct.set(group, new Set());
    direct.get(group).add(id);
  };
  for (const st of steps) {
    if (st.boundary_id && GROUP_TYPES.has(byId.get(st.boundary_id)?.type)) put(st.boundary_id, st.id);
    if (GROUP_TYPES.has(st.type)) for (const child of st.children) if (byId.has(child)) put(st.id, child);
  }
  return direct;
}

// Every id inside `group`, however deep (malformed data may loop: each id is visited once).
export function inside(group, members) {
  const seen = new Set();
  const todo = [group];
  while (todo.length) {
    for (const id of members.get(todo.pop()) || []) {
      if (id === group || seen.has(id)) continue;
      seen.add(id);
      todo.push(id);
    }
  }
  return seen;
}

// Groups worth folding at once: each group except the run's own root, which holds everything.
export function foldable(steps, members) {
  const children = new Set(steps.flatMap((st) => st.children));
  return steps.filter((st) => members.has(st.id) && children.has(st.id)).map((st) => st.id);
}

// The graph with the `collapsed` groups folded: the steps still shown, their edges, and how many
// steps each folded group holds.
export function fold(steps, collapsed, members) {
  const shownAs = new Map(); // a folded step -> the collapsed group drawn for it
  const held = new Map();
  for (const group of collapsed) {
    if (shownAs.has(group) || !members.has(group)) continue; // inside a group folded already
    const ids = inside(group, members);
    held.set(group, ids.size);
    for (const id of ids) {
      if (held.has(id)) held.delete(id); // a group folded inside this one
      shownAs.set(id, group);
    }
  }
  const shown = steps.filter((st) => !shownAs.has(st.id));
  const seen = new Set();
  const edges = [];
  for (const st of steps) {
    const a = shownAs.get(st.id) ?? st.id;
    for (const child of st.children) {
      const b = shownAs.get(child) ?? child;
      const key = `${a}\u0000${b}`;
      if (a === b || seen.has(key)) continue;
      seen.add(key);
      edges.push([a, b]);
    }
  }
  return { shown, edges, held, shownAs };
}
