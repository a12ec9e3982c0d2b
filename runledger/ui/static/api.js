// The HTTP API as the pages use it: JSON reads with the tab's bearer token, and the event feed.
//
// EventSource cannot send an Authorization header, so the feed is read with fetch and parsed here
// (the SSE wire format is a few lines of text), reconnecting with Last-Event-ID like EventSource.

const TOKEN_KEY = "runledger.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

export function url(path, params) {
  const q = params instanceof URLSearchParams ? params : new URLSearchParams(params || {});
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

export async function get(path, params, { signal } = {}) {
  return (await request(path, params, { signal, accept: "application/json" })).json();
}

// A text body (a step's log) and the response, for its headers; `range` as HTTP's Range header.
export async function getText(path, params, { signal, range } = {}) {
  const response = await request(path, params, { signal, accept: "text/plain", ...(range ? { range } : {}) });
  return { text: await response.text(), response };
}

// A plain link to an API document (its JSON, a whole log). With a token in this tab a browser's own
// navigation would carry no Authorization header and get a 401: the click fetches the body with the
// token instead and opens it from a blob URL.
export function openWithToken(event) {
  if (!token() || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  const link = event.currentTarget;
  request(link.getAttribute("href"), null, { accept: "*/*" }).then((r) => r.blob()).then((blob) => {
    const opened = URL.createObjectURL(blob);
    window.open(opened, "_blank", "noopener");
    setTimeout(() => URL.revokeObjectURL(opened), 60_000);
  }, (err) => { link.title = `Could not open it: ${err.message}`; });
}

async function request(path, params, { signal, accept, range }) {
  let response;
  try {
    const extra = range ? { Accept: accept, Range: range } : { Accept: accept };
    response = await fetch(url(path, params), { headers: headers(extra), signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "the server cannot be reached");
  }
  if (response.ok) return response;
  let code = "error", message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch { /* not JSON: keep the status line */ }
  throw new ApiError(response.status, code, message);
}

// Reads /api/v1/events until `signal` aborts; calls onEvent(type, data, id) for each event and
// onState("live" | "reconnecting" | "unauthorized") as the connection changes.
export async function follow(params, { onEvent, onState = () => {}, signal }) {
  let lastId = null;
  let delay = 500;
  while (!signal.aborted) {
    try {
      const h = headers({ Accept: "text/event-stream" });
      if (lastId !== null) h["Last-Event-ID"] = lastId;
      const response = await fetch(url("/api/v1/events", params), { headers: h, signal });
      if (response.status === 401 || response.status === 403) {
        onState("unauthorized");
        return;
      }
      if (!response.ok || !response.body) throw new Error(`feed answered ${response.status}`);
      onState("live");
      delay = 500;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let frame = { event: "message", data: [], id: null };
      stream: for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl;
        while ((nl = buffer.search(/\r?\n/)) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(buffer[nl] === "\r" ? nl + 2 : nl + 1);
          if (line === "") {
            if (frame.id !== null) lastId = frame.id;
            // The server dropped us for falling behind: resume from the last id we saw.
            if (frame.event === "overflow") { await reader.cancel(); break stream; }
            if (frame.data.length) dispatch(frame, onEvent);
            frame = { event: "message", data: [], id: null };
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") frame.event = val;
          else if (field === "data") frame.data.push(val);
          else if (field === "id") frame.id = val;
        }
      }
    } catch (err) {
      if (signal.aborted) return;
    }
    onState("reconnecting");
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 15000);
  }
}

function dispatch(frame, onEvent) {
  let data;
  try {
    data = JSON.parse(frame.data.join("\n"));
  } catch {
    return;
  }
  onEvent(frame.event, data, frame.id);
}
