"""An in-process Kubernetes API server double that speaks the real wire protocol.

Why a double and not mocks: the agent's hard parts live in the protocol, not in our code's calls —
a paged list served from one snapshot, a watch resumed from a resourceVersion, bookmarks, a 410
that forces a relist, a socket that goes silent or dies without its final chunk. Mocking the
kubernetes_asyncio methods would test our assumptions about those behaviours; this double lets the
REAL client (ApiClient + CustomObjectsApi/CoreV1Api/CoordinationV1Api + watch.Watch, or raw
`_preload_content=False` streaming) talk HTTP to a server that behaves like kube-apiserver.

Design, mirroring the real server:

* One global etcd-like revision. Every create/update/delete bumps it and stamps
  metadata.resourceVersion; a list's metadata.resourceVersion is the revision it was served at.
* Per resource, a history: the state at the compaction point (`base`) plus every event after it.
  Any state at or after the compaction point can be rebuilt, so every page of a paged list is
  served from the snapshot its continue token names (etcd MVCC), and a watch replays exactly the
  events after its resourceVersion. `compact()` folds history into the base, after which older
  resourceVersions are "too old": a watch gets an ERROR event with a 410 Expired Status (the
  watch cache's behaviour), a continue token gets HTTP 410 Expired.
* Watches are chunked `application/json` streams, one `{"type", "object"}` per line, written as
  events happen. Label selectors are applied the way the watch cache does it: an object relabelled
  out of a watcher's selector reaches that watcher as DELETED, relabelled in as ADDED.
* Errors are `Status` objects with the reason/code the real server uses (NotFound, AlreadyExists,
  Conflict, Expired, TooManyRequests with Retry-After...).
* A no-op update (nothing changed but resourceVersion) stores nothing and emits no event, as the
  real server short-circuits identical writes.

Fault knobs (`fail_next`, `inject_error_event`, `drop_watches`, `send_bookmarks`,
`inject_garbage_line`, `pause_watches`) and a request log let tests drive the failure modes an agent
must survive and assert how it reacted (e.g. that a resumed watch did not relist).

TokenReview and SubjectAccessReview, which the API's auth asks, are answered by `reviews`
(tests/support/kube_reviews.py).

Not implemented (not needed by a list+watch agent, leader election or API auth): PATCH, DELETE over
HTTP, cluster-scoped resources, subresources, protobuf/Table, discovery, authenticating the caller.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import json
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from aiohttp import web
from kubernetes_asyncio import client as k8s

from tests.support.kube_reviews import AccessReviews

Obj = dict[str, Any]


# --------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class ResourceType:
    plural: str
    group: str  # "" for the core group
    version: str
    kind: str
    field_labels: tuple[str, ...] = ("metadata.name", "metadata.namespace")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """How the real server names the resource in messages: `leases.coordination.k8s.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def builtin(self) -> bool:
        # Typed (built-in) lists drop kind/apiVersion from their items; custom resource lists keep them.
        return self.group != "argoproj.io"


RESOURCES: dict[str, ResourceType] = {
    r.plural: r
    for r in (
        ResourceType("workflows", "argoproj.io", "v1alpha1", "Workflow"),
        ResourceType(
            "pods", "", "v1", "Pod",
            ("metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
             "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP"),
        ),  # fmt: skip
        ResourceType("configmaps", "", "v1", "ConfigMap"),
        ResourceType("leases", "coordination.k8s.io", "v1", "Lease"),
    )
}


class Request(NamedTuple):
    method: str
    path: str
    query: dict[str, str]


@dataclass(frozen=True)
class _Event:
    revision: int
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    obj: Obj  # the object after the change; for DELETED the last object stamped with the deletion revision
    prev: Obj | None  # the object before the change (None for ADDED)


@dataclass
class _Fault:
    status: int
    remaining: int
    verb: str | None
    retry_after: int | None
    body: str | None
    content_type: str


# -------------------------------------------------------------------------------------------- errors


_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 410: "Expired", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}  # fmt: skip


def status_object(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    status: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": reason, "code": code}  # fmt: skip
    if details:
        status["details"] = details
    return status


class ApiError(Exception):
    """A failure answered as a Status object, like apimachinery's StatusError."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.status = status_object(code, reason, message, details)

    def response(self, headers: Mapping[str, str] | None = None) -> web.Response:
        return _json_response(self.status, self.status["code"], headers)


def _details(rt: ResourceType, name: str) -> Obj:
    details = {"name": name, "group": rt.group, "kind": rt.plural}
    return {k: v for k, v in details.items() if v}


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(rt, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def _json_response(body: Obj, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=_dumps(body), content_type="application/json", headers=headers)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------- selectors


_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"  # optional DNS-subdomain prefix
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_SET_REQ = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ_REQ = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=<>(),]*)$")
_CMP_REQ = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s*(?P<op>[<>])\s*(?P<value>-?\d+)$")
_NOT_REQ = re.compile(r"^!\s*(?P<key>[^\s!=<>(),]+)$")
_HAS_REQ = re.compile(r"^(?P<key>[^\s!=<>(),]+)$")


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str  # exists | !exists | = | != | in | notin | gt | lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present, value = self.key in labels, labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present or not re.fullmatch(r"-?\d+", value or ""):
            return False
        return int(value) > int(self.values[0]) if self.op == "gt" else int(value) < int(self.values[0])


def _split_top_level(text: str) -> list[str]:
    """Commas AND requirements together, except inside the parentheses of `in (a,b)`."""
    parts, depth, current = [], 0, []
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _requirement(text: str) -> _Requirement:
    if m := _SET_REQ.match(text):
        values = tuple(v.strip() for v in m["values"].split(","))
        return _checked(_Requirement(m["key"], m["op"], values))
    if m := _EQ_REQ.match(text):
        op = "!=" if m["op"] == "!=" else "="
        return _checked(_Requirement(m["key"], op, (m["value"],)))
    if m := _CMP_REQ.match(text):
        return _checked(_Requirement(m["key"], "gt" if m["op"] == ">" else "lt", (m["value"],)))
    if m := _NOT_REQ.match(text):
        return _checked(_Requirement(m["key"], "!exists"))
    if m := _HAS_REQ.match(text):
        return _checked(_Requirement(m["key"], "exists"))
    raise bad_request(f"unable to parse requirement: found '{text}', expected: key, !key, key=value, key in (...)")


def _checked(req: _Requirement) -> _Requirement:
    if not _LABEL_KEY.match(req.key):
        raise bad_request(f"unable to parse requirement: invalid label key \"{req.key}\"")
    for value in req.values:
        if req.op not in ("gt", "lt") and not _LABEL_VALUE.match(value):
            raise bad_request(f"unable to parse requirement: invalid label value: \"{value}\"")
    return req


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[_Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text or not text.strip():
            return cls()
        parts = _split_top_level(text)
        if any(not p for p in parts):
            raise bad_request(f"unable to parse requirement: empty requirement in \"{text}\"")
        return cls(tuple(_requirement(p) for p in parts))

    def matches(self, obj: Obj) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[tuple[str, bool, str], ...] = ()  # (field path, equal?, value)

    @classmethod
    def parse(cls, rt: ResourceType, text: str | None) -> FieldSelector:
        if not text or not text.strip():
            return cls()
        reqs = []
        for part in _split_top_level(text):
            m = re.fullmatch(r"(?P<field>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>.*)", part)
            if not m:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
            if m["field"] not in rt.field_labels:
                raise bad_request(f'field label not supported: {m["field"]}')
            reqs.append((m["field"], m["op"] != "!=", m["value"]))
        return cls(tuple(reqs))

    def matches(self, obj: Obj) -> bool:
        return all((_field(obj, path) == value) is equal for path, equal, value in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)


def _field(obj: Obj, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


# ------------------------------------------------------------------------------------------ history


def _key(namespace: str, name: str) -> str:
    # The etcd key below the resource prefix: lists are ordered by it and continue tokens point into it.
    return f"{namespace}/{name}"


def _apply(state: dict[str, Obj], event: _Event) -> None:
    if event.type == "DELETED":
        state.pop(event.key, None)
    else:
        state[event.key] = event.obj


class _History:
    """One resource's MVCC log: the state at the compaction point plus every event after it."""

    def __init__(self, limit: int | None) -> None:
        self.current: dict[str, Obj] = {}
        self.base: dict[str, Obj] = {}
        self.compacted = 0  # the oldest revision still readable
        self.events: list[_Event] = []
        self.limit = limit

    def record(self, event: _Event) -> None:
        self.events.append(event)
        _apply(self.current, event)
        if self.limit is not None and len(self.events) > self.limit:
            self.compact(self.events[-self.limit - 1].revision)

    def state_at(self, revision: int) -> dict[str, Obj]:
        state = dict(self.base)
        for event in self.events[: bisect.bisect_right(self.events, revision, key=lambda e: e.revision)]:
            _apply(state, event)
        return state

    def events_after(self, revision: int) -> list[_Event]:
        return self.events[bisect.bisect_right(self.events, revision, key=lambda e: e.revision) :]

    def compact(self, revision: int) -> None:
        if revision <= self.compacted:
            return
        cut = bisect.bisect_right(self.events, revision, key=lambda e: e.revision)
        for event in self.events[:cut]:
            _apply(self.base, event)
        del self.events[:cut]
        self.compacted = revision


# ------------------------------------------------------------------------------------ continue tokens


def encode_continue(revision: int, start_key: str) -> str:
    # The real server's format: base64url(JSON{v, rv, start}) without padding; clients treat it as opaque.
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(data.get("rv"), int):
            raise ValueError("unknown version or revision")
        return data["rv"], str(data["start"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from None


_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue value from the new list response."
)


# ------------------------------------------------------------------------------------------ watchers


_END = None  # in a watcher's queue: end the stream cleanly after what precedes it


@dataclass(eq=False)
class _Watcher:
    resource: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    bookmarks: bool
    last_rv: int = 0
    pending: deque[bytes | None] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    paused: bool = False
    ending: str | None = None  # "drop" (transport close, no final chunk) | "shutdown" (clean end)

    def matches(self, obj: Obj) -> bool:
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)

    def view(self, event: _Event) -> tuple[str, Obj] | None:
        """What this watcher sees of an event, with the watch cache's selector transitions."""
        was = event.prev is not None and self.matches(event.prev)
        now = event.type != "DELETED" and self.matches(event.obj)
        if event.type == "DELETED":
            return ("DELETED", event.obj) if was else None
        if now:
            return ("MODIFIED" if was else "ADDED", event.obj)
        if was:
            # Left the selector: DELETED carrying the previous content at the event's revision.
            assert event.prev is not None
            return ("DELETED", _with_rv(event.prev, event.revision))
        return None

    def send(self, event_type: str, obj: Obj, revision: int) -> None:
        self.last_rv = max(self.last_rv, revision)
        self.push(_dumps({"type": event_type, "object": obj}) + b"\n")

    def push(self, line: bytes | None) -> None:
        self.pending.append(line)
        self.wakeup.set()

    def end(self, how: str) -> None:
        self.ending = how
        self.wakeup.set()


def _with_rv(obj: Obj, revision: int) -> Obj:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(revision)}}


# -------------------------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class _Route:
    resource: ResourceType
    namespace: str | None
    name: str | None


_CORE_PATH = re.compile(r"^/api/v1(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?/?$")
_GROUP_PATH = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?/?$"
)


def _route(path: str) -> _Route | None:
    if m := _CORE_PATH.match(path):
        group, version = "", "v1"
    elif m := _GROUP_PATH.match(path):
        group, version = m["group"], m["version"]
    else:
        return None
    rt = RESOURCES.get(m["plural"])
    if rt is None or (rt.group, rt.version) != (group, version) or (m["name"] and not m["ns"]):
        return None
    return _Route(rt, m["ns"], m["name"])


def parse_bool(value: str | None, name: str) -> bool:
    """Go's strconv.ParseBool, which is what the server applies to boolean query parameters."""
    if value is None or value == "":
        return False
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise bad_request(f"invalid value for {name}: {value!r}")


def _parse_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"invalid value for {name}: {value!r}") from None


def _verb(method: str, route: _Route, query: Mapping[str, str]) -> str:
    if method == "GET":
        if route.name:
            return "get"
        return "watch" if parse_bool(query.get("watch"), "watch") else "list"
    if method == "POST" and not route.name and route.namespace:
        return "create"
    if method == "PUT" and route.name:
        return "update"
    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ the double


class KubeDouble:
    """A Kubernetes API server on 127.0.0.1 for tests: see the module docstring."""

    def __init__(self, *, history_limit: int | None = None, stale_watch_as_http_410: bool = False) -> None:
        self.stale_watch_as_http_410 = stale_watch_as_http_410
        self.reviews = AccessReviews()
        self.requests: list[Request] = []
        self._classified: list[tuple[str | None, str | None]] = []  # (resource, verb) per request
        self._revision = 0
        self._histories = {plural: _History(history_limit) for plural in RESOURCES}
        self._watchers: dict[str, list[_Watcher]] = {plural: [] for plural in RESOURCES}
        self._watches_started: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        self._faults: dict[str, list[_Fault]] = {plural: [] for plural in RESOURCES}
        self._armed_errors: dict[str, list[Obj]] = {plural: [] for plural in RESOURCES}
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> KubeDouble:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # handler_cancellation: a client hanging up ends its watch handler, so open-watch counts are true.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        if self._runner is None:
            return
        for watcher in self._all_watchers():
            watcher.end("shutdown")
        try:
            await self.wait_until(lambda: not self._all_watchers(), timeout=2.0)
        except TimeoutError:
            pass  # a handler stuck writing to a client that stopped reading: cleanup() cancels it
        finally:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> KubeDouble:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def client_configuration(self) -> k8s.Configuration:
        configuration = k8s.Configuration(host=self.url)
        configuration.verify_ssl = False
        return configuration

    # ------------------------------------------------------------------ script API: the cluster's state

    @property
    def revision(self) -> int:
        return self._revision

    def create(self, resource: str, obj: Obj) -> Obj:
        """Store a new object (ADDED); stamps resourceVersion, and uid/creationTimestamp unless given."""
        rt = self._type(resource)
        obj = self._normalized(rt, obj)
        meta = obj["metadata"]
        key = _key(meta["namespace"], meta["name"])
        if key in self._histories[rt.plural].current:
            raise ValueError(f'{rt.qualified} "{key}" already exists')
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        return copy.deepcopy(self._commit(rt, "ADDED", key, obj, None))

    def update(self, resource: str, obj: Obj) -> Obj:
        """Replace an object (MODIFIED), keeping its uid and creationTimestamp; a no-op change emits nothing."""
        rt = self._type(resource)
        obj = self._normalized(rt, obj)
        meta = obj["metadata"]
        key = _key(meta["namespace"], meta["name"])
        prev = self._histories[rt.plural].current.get(key)
        if prev is None:
            raise KeyError(f'{rt.qualified} "{key}" not found')
        meta["uid"] = prev["metadata"]["uid"]
        meta["creationTimestamp"] = prev["metadata"]["creationTimestamp"]
        if _with_rv(obj, 0) == _with_rv(prev, 0):
            return copy.deepcopy(prev)
        return copy.deepcopy(self._commit(rt, "MODIFIED", key, obj, prev))

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        """Remove an object; the DELETED event carries its last state at the deletion's revision."""
        rt = self._type(resource)
        key = _key(namespace, name)
        prev = self._histories[rt.plural].current.get(key)
        if prev is None:
            raise KeyError(f'{rt.qualified} "{key}" not found')
        return copy.deepcopy(self._commit(rt, "DELETED", key, copy.deepcopy(prev), prev))

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        obj = self._histories[self._type(resource).plural].current.get(_key(namespace, name))
        return copy.deepcopy(obj)

    def objects(self, resource: str) -> list[Obj]:
        """Every stored object of a resource, ordered as a list would serve them."""
        current = self._histories[self._type(resource).plural].current
        return [copy.deepcopy(current[k]) for k in sorted(current)]

    def compact(self, revision: int | None = None, *, resource: str | None = None) -> int:
        """Drop history below `revision` (default: now); older resourceVersions then answer 410."""
        revision = self._revision if revision is None else revision
        if revision > self._revision:
            raise ValueError(f"cannot compact at future revision {revision} (current {self._revision})")
        for plural in [self._type(resource).plural] if resource else RESOURCES:
            self._histories[plural].compact(revision)
        return revision

    # ------------------------------------------------------------------ script API: faults

    def fail_next(
        self,
        resource: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        body: str | None = None,
        content_type: str = "application/json",
        verb: str | None = None,
    ) -> None:
        """The next `times` requests for `resource` (optionally only of `verb`: list, watch, get, create,
        update) are answered with `status`: a Status object unless `body` is given verbatim. A 429
        always carries Retry-After (default 1s), as the real server's priority-and-fairness throttling does."""
        if body is None and status < 400:
            raise ValueError("a non-error status needs an explicit body")
        self._type(resource)
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults[resource].append(_Fault(status, times, verb, retry_after, body, content_type))

    def inject_error_event(
        self, resource: str, code: int = 410, *, message: str | None = None, future: int | None = None
    ) -> int:
        """Open watches get an ERROR event (a Status; 410 → reason Expired) and then a clean end of stream.

        `future` more watches opened later get the same at once; it defaults to 1 when no watch is open,
        so an error injected before the client connected is not lost. Returns the open watches hit.
        """
        rt = self._type(resource)
        watchers = self._watchers[resource]
        for w in watchers:
            w.push(_dumps({"type": "ERROR", "object": self._error_status(code, message, w.last_rv)}) + b"\n")
            w.push(_END)
        armed = future if future is not None else (0 if watchers else 1)
        self._armed_errors[rt.plural].extend({"code": code, "message": message} for _ in range(armed))
        return len(watchers)

    def drop_watches(self, resource: str) -> int:
        """Close open watch connections abruptly: no final chunk, undelivered events are lost."""
        return self._each_watcher(resource, lambda w: w.end("drop"))

    def send_bookmarks(self, resource: str) -> int:
        """A BOOKMARK at the current revision to every open watch that allowed bookmarks."""
        rt = self._type(resource)
        targets = [w for w in self._watchers[resource] if w.bookmarks]
        for w in targets:
            w.send("BOOKMARK", self._bookmark(rt), self._revision)
        return len(targets)

    def inject_garbage_line(self, resource: str, line: bytes = b"<html><body>502 Bad Gateway</body></html>") -> int:
        return self._each_watcher(resource, lambda w: w.push(line.rstrip(b"\n") + b"\n"))

    def pause_watches(self, resource: str) -> int:
        """Hold everything for the open watches (events, bookmarks, even timeoutSeconds): a silent socket."""
        return self._each_watcher(resource, lambda w: setattr(w, "paused", True))

    def resume_watches(self, resource: str) -> int:
        def resume(w: _Watcher) -> None:
            w.paused = False
            w.wakeup.set()

        return self._each_watcher(resource, resume)

    # ------------------------------------------------------------------ script API: observation

    def open_watches(self, resource: str) -> int:
        return len(self._watchers[self._type(resource).plural])

    def watches_started(self, resource: str) -> int:
        """Watches ever accepted for a resource (a reconnect counts again)."""
        return self._watches_started[self._type(resource).plural]

    def requests_for(self, resource: str, verb: str | None = None) -> list[Request]:
        """Logged requests for a resource, optionally only one verb (list, watch, get, create, update)."""
        return [
            r for r, (res, v) in zip(self.requests, self._classified, strict=True)
            if res == resource and (verb is None or v == verb)
        ]  # fmt: skip

    async def wait_for_watchers(self, resource: str, n: int = 1, timeout: float = 5.0) -> None:
        """Until at least `n` watches of `resource` are open."""
        self._type(resource)
        await self.wait_until(lambda: len(self._watchers[resource]) >= n, timeout=timeout)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until `predicate()` holds; re-checked whenever a request arrives, a watch opens/closes or state changes."""
        deadline = time.monotonic() + timeout
        while not predicate():
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ internals: state

    def _type(self, resource: str | None) -> ResourceType:
        if resource not in RESOURCES:
            raise ValueError(f"unknown resource {resource!r}; known: {sorted(RESOURCES)}")
        return RESOURCES[resource]

    def _normalized(self, rt: ResourceType, obj: Obj) -> Obj:
        obj = {"apiVersion": rt.api_version, "kind": rt.kind, **copy.deepcopy(obj)}
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ValueError("metadata.name is required")
        meta.setdefault("namespace", "default")
        return obj

    def _commit(self, rt: ResourceType, event_type: str, key: str, obj: Obj, prev: Obj | None) -> Obj:
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        event = _Event(self._revision, event_type, key, obj, prev)
        self._histories[rt.plural].record(event)
        for watcher in self._watchers[rt.plural]:
            if seen := watcher.view(event):
                watcher.send(*seen, event.revision)
        self._changed.set()
        return obj

    def _all_watchers(self) -> list[_Watcher]:
        return [w for watchers in self._watchers.values() for w in watchers]

    def _each_watcher(self, resource: str, action: Callable[[_Watcher], object]) -> int:
        watchers = list(self._watchers[self._type(resource).plural])
        for w in watchers:
            action(w)
        return len(watchers)

    def _bookmark(self, rt: ResourceType, annotations: dict[str, str] | None = None) -> Obj:
        meta: Obj = {"resourceVersion": str(self._revision)}
        if annotations:
            meta["annotations"] = annotations
        return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}

    def _error_status(self, code: int, message: str | None, since: int | str) -> Obj:
        if code == 410:
            return status_object(410, "Expired", message or f"too old resource version: {since} ({self._revision})")
        return status_object(code, _REASONS.get(code, "Unknown"), message or "injected watch error")

    # ------------------------------------------------------------------ internals: HTTP

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        query = {k: request.query[k] for k in request.query}
        self.requests.append(Request(request.method, request.path, query))
        self._classified.append((None, None))
        self._changed.set()
        if (reviewed := await self.reviews.handle(request)) is not None:
            return reviewed
        route = _route(request.path)
        if route is None:
            return ApiError(404, "NotFound", "the server could not find the requested resource").response()
        try:
            verb = _verb(request.method, route, query)
            self._classified[-1] = (route.resource.plural, verb)
            if fault := self._take_fault(route.resource.plural, verb):
                return self._fault_response(fault)
            return await self._serve(verb, request, route, query)
        except ApiError as error:
            return error.response()

    async def _serve(self, verb: str, request: web.Request, route: _Route, query: dict[str, str]) -> web.StreamResponse:
        if verb == "watch":
            return await self._watch(request, route, query)
        if verb == "list":
            return _json_response(self._list(route, query))
        if verb == "get":
            return _json_response(self._get(route))
        body = await self._body(request)
        if verb == "create":
            return _json_response(self._create_via_api(route, body), 201)
        return _json_response(self._update_via_api(route, body))

    def _take_fault(self, resource: str, verb: str) -> _Fault | None:
        for fault in self._faults[resource]:
            if fault.verb in (None, verb):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults[resource].remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_response(fault: _Fault) -> web.Response:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if fault.body is not None:
            headers["Content-Type"] = fault.content_type
            return web.Response(status=fault.status, body=fault.body.encode(), headers=headers)
        reason = _REASONS.get(fault.status, "Unknown")
        message = "Too many requests, please try again later." if fault.status == 429 else f"injected {fault.status}"
        details = {"retryAfterSeconds": fault.retry_after} if fault.retry_after is not None else None
        return ApiError(fault.status, reason, message, details).response(headers)

    # list ------------------------------------------------------------------

    def _list(self, route: _Route, query: Mapping[str, str]) -> Obj:
        rt = route.resource
        labels = LabelSelector.parse(query.get("labelSelector"))
        fields = FieldSelector.parse(rt, query.get("fieldSelector"))
        limit = max(_parse_int(query.get("limit"), "limit") or 0, 0)
        revision, start = self._list_position(rt, query.get("continue"))
        state = self._histories[rt.plural].state_at(revision)
        matching = [
            state[k] for k in sorted(state)
            if k >= start and (route.namespace is None or k.startswith(route.namespace + "/"))
            and labels.matches(state[k]) and fields.matches(state[k])
        ]  # fmt: skip
        page = matching[:limit] if limit else matching
        meta: Obj = {"resourceVersion": str(revision)}
        if limit and len(matching) > limit:
            last = page[-1]["metadata"]
            meta["continue"] = encode_continue(revision, _key(last["namespace"], last["name"]) + "\x00")
            if not labels and not fields:  # as the real server: unknown (omitted) under a selector
                meta["remainingItemCount"] = len(matching) - limit
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} if rt.builtin else o for o in page]
        return {"apiVersion": rt.api_version, "kind": f"{rt.kind}List", "metadata": meta, "items": items}

    def _list_position(self, rt: ResourceType, token: str | None) -> tuple[int, str]:
        if not token:
            return self._revision, ""
        revision, start = decode_continue(token)
        if revision == -1:  # an inconsistent continuation: the rest of the list as of now
            return self._revision, start
        if revision < self._histories[rt.plural].compacted:
            error = expired(_EXPIRED_CONTINUE)
            # The real server offers a token to continue inconsistently (at the latest revision).
            error.status["metadata"] = {"continue": encode_continue(-1, start)}
            raise error
        return revision, start

    # get / create / update -------------------------------------------------

    def _get(self, route: _Route) -> Obj:
        assert route.namespace and route.name
        obj = self._histories[route.resource.plural].current.get(_key(route.namespace, route.name))
        if obj is None:
            raise not_found(route.resource, route.name)
        return obj

    @staticmethod
    async def _body(request: web.Request) -> Obj:
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            raise bad_request(f"the body of the request was in an unknown format: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.setdefault("metadata", {}), dict):
            raise bad_request("the body of the request was in an unknown format")
        return body

    def _check_body(self, route: _Route, body: Obj) -> None:
        rt, meta = route.resource, body["metadata"]
        for key, expected in (("apiVersion", rt.api_version), ("kind", rt.kind)):
            if body.get(key) not in (None, "", expected):
                raise bad_request(f"the {key} in the data ({body[key]}) does not match the expected {key} ({expected})")
        if meta.get("namespace") not in (None, "", route.namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = route.namespace

    def _create_via_api(self, route: _Route, body: Obj) -> Obj:
        rt, meta = route.resource, body["metadata"]
        self._check_body(route, body)
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        if not meta.get("name"):
            message = (
                f'{rt.kind}.{rt.group or "core"} "" is invalid: '
                "metadata.name: Required value: name or generateName is required"
            )
            raise ApiError(422, "Invalid", message, {"kind": rt.kind, "group": rt.group})
        if _key(route.namespace or "", meta["name"]) in self._histories[rt.plural].current:
            raise already_exists(rt, meta["name"])
        meta.pop("uid", None)
        meta["creationTimestamp"] = _now()  # server-owned, whatever the client sent
        return self.create(rt.plural, body)

    def _update_via_api(self, route: _Route, body: Obj) -> Obj:
        rt, meta = route.resource, body["metadata"]
        assert route.namespace and route.name
        self._check_body(route, body)
        if meta.get("name", route.name) != route.name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({route.name})"
            )
        meta["name"] = route.name
        current = self._histories[rt.plural].current.get(_key(route.namespace, route.name))
        if current is None:
            raise not_found(rt, route.name)  # leases (like most types) do not create on update
        if meta.get("uid") and meta["uid"] != current["metadata"]["uid"]:
            why = (
                f"Precondition failed: UID in precondition: {meta['uid']}, "
                f"UID in object meta: {current['metadata']['uid']}"
            )
            raise conflict(rt, route.name, why)
        # An empty resourceVersion is an unconditional update; any other must be the current one.
        if meta.get("resourceVersion") and meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
            why = "the object has been modified; please apply your changes to the latest version and try again"
            raise conflict(rt, route.name, why)
        return self.update(rt.plural, body)

    # watch -----------------------------------------------------------------

    async def _watch(self, request: web.Request, route: _Route, query: Mapping[str, str]) -> web.StreamResponse:
        watcher, timeout = self._open_watcher(route, query)
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            deadline = None if not timeout else asyncio.get_running_loop().time() + timeout
            ending = await self._pump(watcher, response, deadline)
        finally:
            self._watchers[route.resource.plural].remove(watcher)
            self._changed.set()
        if ending == "drop" and request.transport is not None:
            # close() flushes what was written, then hangs up without the terminating zero-length chunk.
            request.transport.close()
            return response
        await response.write_eof()
        return response

    def _open_watcher(self, route: _Route, query: Mapping[str, str]) -> tuple[_Watcher, int | None]:
        """Validate, then register and prime the watcher with no await in between, so no event is missed."""
        rt = route.resource
        rv = _parse_int(query.get("resourceVersion"), "resourceVersion")
        bookmarks = parse_bool(query.get("allowWatchBookmarks"), "allowWatchBookmarks")
        initial = parse_bool(query.get("sendInitialEvents"), "sendInitialEvents")
        timeout = _parse_int(query.get("timeoutSeconds"), "timeoutSeconds")
        if initial and not bookmarks:
            raise ApiError(422, "Invalid", "sendInitialEvents requires allowWatchBookmarks=true")
        watcher = _Watcher(
            rt, route.namespace, LabelSelector.parse(query.get("labelSelector")),
            FieldSelector.parse(rt, query.get("fieldSelector")), bookmarks, last_rv=rv or 0,
        )  # fmt: skip
        self._prime(watcher, rv, initial=initial)
        self._watchers[rt.plural].append(watcher)
        self._watches_started[rt.plural] += 1
        self._changed.set()
        return watcher, timeout

    def _prime(self, watcher: _Watcher, rv: int | None, *, initial: bool) -> None:
        """Queue what the stream starts with: a 410, an injected error, the current state, or the history after rv."""
        history = self._histories[watcher.resource.plural]
        if rv and not initial and rv < history.compacted:
            too_old = f"too old resource version: {rv} ({history.compacted})"
            if self.stale_watch_as_http_410:
                raise expired(too_old)
            self._prime_error(watcher, status_object(410, "Expired", too_old))
        elif armed := self._armed_errors[watcher.resource.plural]:
            spec = armed.pop(0)
            self._prime_error(watcher, self._error_status(spec["code"], spec["message"], rv or 0))
        elif initial or not rv:
            self._prime_current_state(watcher, history, announce_end=initial)
        else:
            for event in history.events_after(rv):
                if seen := watcher.view(event):
                    watcher.send(*seen, event.revision)

    @staticmethod
    def _prime_error(watcher: _Watcher, status: Obj) -> None:
        watcher.push(_dumps({"type": "ERROR", "object": status}) + b"\n")
        watcher.push(_END)

    def _prime_current_state(self, watcher: _Watcher, history: _History, *, announce_end: bool) -> None:
        # resourceVersion unset or "0": synthetic ADDED events for the current state, then changes.
        for key in sorted(history.current):
            obj = history.current[key]
            if watcher.matches(obj):
                watcher.send("ADDED", obj, int(obj["metadata"]["resourceVersion"]))
        if announce_end:
            bookmark = self._bookmark(watcher.resource, {"k8s.io/initial-events-end": "true"})
            watcher.send("BOOKMARK", bookmark, self._revision)

    @staticmethod
    async def _pump(watcher: _Watcher, response: web.StreamResponse, deadline: float | None) -> str:
        """Write queued lines as they come; returns why the stream ends: drop, shutdown, end or timeout."""
        loop = asyncio.get_running_loop()
        while True:
            if watcher.ending:
                return watcher.ending
            if watcher.pending and not watcher.paused:
                line = watcher.pending.popleft()
                if line is _END:
                    return "end"
                await response.write(line)  # StreamResponse.write drains when the transport buffer fills
                continue
            watcher.wakeup.clear()
            remaining = None if watcher.paused or deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return "timeout"
            try:
                async with asyncio.timeout(remaining):
                    await watcher.wakeup.wait()
            except TimeoutError:
                return "timeout"
