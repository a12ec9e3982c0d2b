// /ui/artifacts/{id or s3://uri} — the indexed object, who wrote and read it, and what it holds.

import { ApiError, get, openWithToken } from "../api.js";
import { add, facts, fmtBytes, fmtNumber, fmtTime, h, lineageHref, phaseBadge, runHref, table } from "../dom.js";
import { viewer } from "../viewers.js";

function events(list, none) {
  if (!list.length) return h("p", { class: "muted" }, none);
  return table(["run", "step", "phase", "as", "finished"], list.map((e) => [
    h("a", { href: runHref(e.run_id) }, e.run_name),
    h("a", { href: runHref(e.run_id, e.step_id) }, e.step_name || e.step_id),
    e.step_phase ? phaseBadge(e.step_phase) : "—",
    e.name,
    fmtTime(e.finished_at),
  ]));
}

// Whether it exists (and may be read) is asked of the listing, which answers an unknown id or URI
// with an empty page in a 200: the detail's 404 would be logged by the browser as a failed load.
async function exists(ref, signal) {
  const byUri = ref.startsWith("s3://");
  if (!byUri && !/^[1-9][0-9]{0,17}$/.test(ref)) {
    throw new ApiError(400, "bad_request", `${ref} is not an artifact reference: use its numeric id or its s3:// URI.`);
  }
  const { artifacts } = await get("/api/v1/artifacts", byUri ? { uri: ref, limit: 1 } : { id: ref, limit: 1 }, { signal });
  if (!artifacts.length) throw new ApiError(404, "not_found", `There is no artifact ${byUri ? "at" : "with the id"} ${ref}.`);
}

export async function render(main, { args: [ref], signal }) {
  await exists(ref, signal);
  const art = await get(`/api/v1/artifacts/${ref.startsWith("s3://") ? ref : encodeURIComponent(ref)}`, null, { signal });
  document.title = `${art.key} · runledger`;
  add(main, 
    h("h1", {}, art.key.split("/").pop() || art.uri),
    facts([
      ["URI", art.uri],
      ["State", art.state],
      ["Why not indexed", art.error],
      ["Size", fmtBytes(art.size)],
      ["Type", art.content_type],
      ["ETag", art.etag],
      ["Last modified", fmtTime(art.last_modified)],
      ["Checked", fmtTime(art.checked_at)],
      ["First seen", fmtTime(art.first_seen_at)],
      ["Endpoint", art.endpoint],
      ["Links", h("span", {}, h("a", { href: lineageHref(`artifact:${art.id}`) }, "lineage"), " · ",
        h("a", { href: `/api/v1/artifacts/${art.id}`, onclick: openWithToken }, "JSON"))],
    ]),
    h("h2", {}, "Produced by"), events(art.produced_by, "No recorded step wrote it."),
    h("h2", {}, "Consumed by"), events(art.consumed_by, "No recorded step read it."),
    art.events_truncated ? h("p", { class: "muted" }, "More steps than these used it.") : null,
    art.metrics.length ? [h("h2", {}, "KFP metrics"),
      table(["name", "value", "format"], art.metrics.map((m) => [m.name, fmtNumber(m.value), m.format]))] : null,
    art.content?.outputs?.length ? [h("h2", {}, "Visualizations"), art.content.outputs.map(viewer)] : null,
    art.errors.length ? [h("h2", {}, "Rejected content"),
      h("ul", {}, art.errors.map((e) => h("li", {}, e.reason || JSON.stringify(e))))] : null);
}
