"""TokenReview and SubjectAccessReview for the Kubernetes API double, as kube-apiserver answers them.

* ``POST /apis/authentication.k8s.io/v1/tokenreviews``: 201 with the review echoed and a status:
  ``{"authenticated": true, "user": {username, uid, groups, extra}, "audiences": [...]}`` for a known
  token, ``{"authenticated": false, "error": "..."}`` otherwise (an unknown token is not an HTTP
  error). Requested audiences must intersect the token's (default: the server's own audience).
* ``POST /apis/authorization.k8s.io/v1/subjectaccessreviews``: 201 with ``{"allowed": bool,
  "reason": ...}``. Grants are RBAC-shaped: a subject (user, or ``group:NAME``), a namespace (``""``:
  a ClusterRoleBinding, i.e. every namespace, which also answers a review for namespace ""), a
  group/resource and verbs. A review for namespace "" is allowed only by a cluster-wide grant.

Tests register tokens and grants, read ``calls`` to count reviews, and ``fail_next`` to make the
reviewer answer an error status (the API server overloaded or runledger's own RBAC missing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
SERVER_AUDIENCE = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class Grant:
    subject: str  # a username, or "group:NAME"
    namespace: str  # "" for cluster-wide
    group: str = "argoproj.io"
    resource: str = "workflows"
    verbs: tuple[str, ...] = ("get", "list", "watch")


@dataclass
class AccessReviews:
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_audiences: dict[str, list[str]] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _failures: list[int] = field(default_factory=list)

    def add_token(
        self, token: str, username: str, *, groups: list[str] = (), uid: str = "", audiences: list[str] | None = None,
        extra: dict[str, list[str]] | None = None,
    ) -> None:  # fmt: skip
        self.tokens[token] = {"username": username, "uid": uid or f"uid-{username}", "groups": list(groups),
                              **({"extra": extra} if extra else {})}  # fmt: skip
        self.token_audiences[token] = audiences or [SERVER_AUDIENCE]

    def grant(self, subject: str, namespace: str, **kwargs: Any) -> None:
        self.grants.append(Grant(subject, namespace, **kwargs))

    def fail_next(self, status: int, *, times: int = 1) -> None:
        self._failures.extend([status] * times)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)

    async def handle(self, request: web.Request) -> web.Response | None:
        """The response to a review request; None when `request` is not one."""
        if request.method != "POST" or request.path not in (TOKEN_REVIEWS, ACCESS_REVIEWS):
            return None
        body = await request.json()
        kind = "TokenReview" if request.path == TOKEN_REVIEWS else "SubjectAccessReview"
        self.calls.append((kind, body))
        if self._failures:
            status = self._failures.pop(0)
            return _status(status, {403: "Forbidden", 500: "InternalError", 503: "ServiceUnavailable"}.get(status, "Unknown"))
        if body.get("kind") != kind or "spec" not in body:
            return _status(400, "BadRequest", f"expected a {kind} with a spec")
        status = self._token_status(body["spec"]) if kind == "TokenReview" else self._access_status(body["spec"])
        return web.json_response({**body, "metadata": {"creationTimestamp": None}, "status": status}, status=201)

    def _token_status(self, spec: dict[str, Any]) -> dict[str, Any]:
        token = spec.get("token", "")
        user = self.tokens.get(token)
        wanted = spec.get("audiences") or [SERVER_AUDIENCE]
        if user is None:
            return {"authenticated": False, "error": "invalid bearer token"}
        matched = [a for a in wanted if a in self.token_audiences[token]]
        if not matched:
            return {"authenticated": False, "error": "token audiences do not match"}
        return {"authenticated": True, "user": user, "audiences": matched}

    def _access_status(self, spec: dict[str, Any]) -> dict[str, Any]:
        attributes = spec.get("resourceAttributes") or {}
        subjects = {spec.get("user", "")} | {f"group:{g}" for g in spec.get("groups") or []}
        namespace = attributes.get("namespace", "")
        for g in self.grants:
            if (
                g.subject in subjects
                and g.namespace in ("", namespace)
                and g.group == attributes.get("group", "")
                and g.resource == attributes.get("resource")
                and attributes.get("verb") in g.verbs
            ):
                return {"allowed": True, "reason": f"granted to {g.subject}"}
        return {"allowed": False}


def _status(code: int, reason: str, message: str = "") -> web.Response:
    return web.Response(
        body=json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": message or reason, "reason": reason, "code": code}),  # fmt: skip
        status=code,
        content_type="application/json",
    )
