// The app shell: a client-side router over /ui/*, the token prompt, and each page's lifetime.
//
// Before a page asks anything, /api/v1/whoami says (always in a 200) whether a token is needed and
// whether the tab's token is good: a 401 would be logged by the browser as a failed load.
//
// A page module exports render(main, ctx) and may return a cleanup function (closing its event
// feed, timers); the router calls it before the next page renders.

import { ApiError, get, setToken, token } from "./api.js";
import { clear, h, notice } from "./dom.js";

const ROUTES = [
  [/^\/ui\/?$/, "runs"],
  [/^\/ui\/runs\/([^/]+)$/, "run"],
  [/^\/ui\/artifacts\/(.+)$/, "artifact"],
  [/^\/ui\/lineage$/, "lineage"],
  [/^\/ui\/compare$/, "compare"],
  [/^\/ui\/pipelines\/([^/]+)$/, "pipeline"],
];

const main = document.getElementById("main");
let cleanup = null;
let generation = 0;
// The answer of /api/v1/whoami for the token it was asked with; asked again when the token changes.
let caller = null;

async function whoami() {
  if (caller && caller.token === token()) return caller.answer;
  const asked = token();
  const answer = await get("/api/v1/whoami");
  caller = { token: asked, answer };
  showCaller(answer);
  return answer;
}

function showCaller(answer) {
  const badge = document.getElementById("caller");
  if (!answer.authenticated) {
    badge.textContent = "";
    badge.removeAttribute("title");
    return;
  }
  const reads = answer.all_namespaces ? "every namespace" : answer.namespaces.join(", ") || "no namespace yet";
  badge.textContent = answer.user;
  badge.title = `Signed in as ${answer.user}; reads ${reads}`;
}

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  route();
}

export function setLive(text) {
  document.getElementById("live").textContent = text;
}

async function route() {
  const mine = ++generation;
  if (cleanup) {
    try { cleanup(); } catch { /* a page's cleanup must not stop the next page */ }
    cleanup = null;
  }
  setLive("");
  const path = location.pathname;
  const match = ROUTES.map(([re, name]) => [path.match(re), name]).find(([m]) => m);
  markNav(path);
  if (!match) {
    clear(main).append(h("h1", {}, "Not found"), notice(`There is no page at ${path}.`, "error"),
      h("p", {}, h("a", { href: "/ui/" }, "Back to the runs")));
    document.title = "Not found · runledger";
    return;
  }
  const [m, name] = match;
  const args = m.slice(1).map(decodeURIComponent);
  try {
    const [page, who] = await Promise.all([import(`./pages/${name}.js`), whoami()]);
    if (mine !== generation) return;
    if (who.auth_required && !who.authenticated) {
      showError(new ApiError(401, "unauthenticated", who.problem));
      return;
    }
    const controller = new AbortController();
    const ctx = { args, query: new URLSearchParams(location.search), signal: controller.signal, navigate, setLive,
      stale: () => mine !== generation };
    clear(main);
    const done = await page.render(main, ctx);
    cleanup = () => { controller.abort(); if (typeof done === "function") done(); };
    if (mine !== generation) cleanup();
  } catch (err) {
    if (mine !== generation || err.name === "AbortError") return;
    showError(err);
  }
}

function showError(err) {
  clear(main);
  if (err instanceof ApiError && err.status === 401) {
    main.append(h("h1", {}, "A token is needed"), tokenForm(token() ? "The token was refused: " + err.message : null));
    main.querySelector("input").focus();
    return;
  }
  const text = err instanceof ApiError ? `${err.message} (HTTP ${err.status || "—"})` : `The page failed: ${err.message}`;
  main.append(h("h1", {}, err.status === 404 ? "Not found" : "Something went wrong"), notice(text, "error"));
  if (!(err instanceof ApiError)) console.error(err);
}

function tokenForm(problem) {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true });
  return h("form", { class: "token", onsubmit: (e) => { e.preventDefault(); setToken(input.value.trim()); route(); } },
    problem ? notice(problem, "error") : null,
    h("p", {}, "This server asks for a bearer token. It is kept for this tab only (sessionStorage) and sent with each API call."),
    h("label", { for: "token" }, "Bearer token"), input, h("button", { type: "submit" }, "Use token"));
}

function markNav(path) {
  for (const a of document.querySelectorAll("header nav a")) {
    const target = new URL(a.href).pathname;
    const current = target === "/ui/" ? path === "/ui/" || path.startsWith("/ui/runs") : path.startsWith(target);
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// Links inside the app are followed without a reload; the rest (API JSON, new tabs) as usual.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const target = new URL(a.href, location.href);
  if (target.origin !== location.origin || !target.pathname.startsWith("/ui")) return;
  if (target.pathname === location.pathname && target.search === location.search && target.hash) return;
  e.preventDefault();
  navigate(target.pathname + target.search);
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

window.addEventListener("popstate", route);

document.getElementById("token-button").addEventListener("click", () => {
  if (cleanup) { cleanup(); cleanup = null; }
  clear(main).append(h("h1", {}, "Bearer token"), tokenForm(null),
    h("p", {}, h("button", { type: "button", onclick: () => { setToken(""); route(); } }, "Forget the token")));
  main.querySelector("input").focus();
});

route();
