"""Who is calling the API, and which namespaces they may read.

Two ways to answer, chosen by RUNLEDGER_AUTH_MODE:

* ``static``: a fixed list of bearer tokens, each naming a user and the namespaces it reads (``*``
  for all). For installs without a Kubernetes API to ask.
* ``kubernetes``: the cluster decides, as it does for kubectl. A bearer token is checked with a
  TokenReview (authentication.k8s.io/v1), and reading a namespace means being allowed ``get`` on
  ``workflows.argoproj.io`` there, asked with a SubjectAccessReview (authorization.k8s.io/v1)
  carrying the reviewed user, groups, uid and extra. A review asked for namespace "" is the
  cluster-wide question; a yes there settles every namespace without asking one by one.

Both reviews are cached briefly (RUNLEDGER_AUTH_CACHE_SECONDS), negative answers included, so a
dashboard polling every few seconds costs the API server a review per cache period, not per
request, and a flood of bad tokens does not turn into a flood of TokenReviews. Concurrent requests
needing the same review wait for one call. Tokens are cached by their SHA-256, never kept as keys.

When the reviewer cannot be reached, or refuses runledger itself (missing RBAC), the answer is
AccessUnavailable (503), never a silent allow or a misleading 401.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
)

from runledger.core.kube_client import ApiException, client
from runledger.core.settings import AuthSettings
from runledger.store.read_errors import AccessUnavailable

log = logging.getLogger(__name__)

ALL_NAMESPACES = "*"
# What reading a namespace's runs means: what `kubectl get workflows -n NS` needs.
READ_GROUP, READ_RESOURCE, READ_VERB = "argoproj.io", "workflows", "get"
REVIEW_TIMEOUT_SECONDS = 5.0
REVIEW_CONCURRENCY = 16

V = TypeVar("V")


class Identity(BaseModel):
    """A caller as the reviewer described it."""

    model_config = ConfigDict(frozen=True)
    user: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def extra_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.extra}


class Access(Protocol):
    async def authenticate(self, token: str) -> Identity | None:
        """The token's identity; None when the token is not valid."""

    async def may_read(self, identity: Identity, namespace: str) -> bool:
        """Whether `identity` may read `namespace` ("" asks for every namespace at once)."""


class TtlCache:
    """Answers reused for `ttl` seconds, at most `max_entries` of them, one load per key at a time."""

    def __init__(self, *, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        while True:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                self._entries.move_to_end(key)
                return entry[1]
            pending = self._loading.get(key)
            if pending is None:
                break
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                # The loading request was cancelled (its client left), not this one: load again.
                if pending.cancelled() and not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    continue
                raise
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it; nobody waiting is not an error
            raise
        else:
            future.set_result(value)
            if self._ttl > 0:
                self._entries[key] = (self._clock() + self._ttl, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            return value
        finally:
            del self._loading[key]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ static


class StaticGrant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    token: SecretStr = Field(min_length=16, description="At least 16 characters.")
    user: str = Field(min_length=1, max_length=253)
    groups: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = Field(min_length=1, description='Namespaces readable; "*" for all.')


_GRANTS = TypeAdapter(list[StaticGrant])


def load_static_grants(auth: AuthSettings) -> list[StaticGrant]:
    """The static tokens from the setting or its file; a clear error (never the tokens) when malformed."""
    if auth.static_tokens_file is not None:
        where = f"RUNLEDGER_AUTH_STATIC_TOKENS_FILE ({auth.static_tokens_file})"
        text = Path(auth.static_tokens_file).read_text()
    elif auth.static_tokens is not None:
        where, text = "RUNLEDGER_AUTH_STATIC_TOKENS", auth.static_tokens.get_secret_value()
    else:
        raise ValueError("auth mode static needs RUNLEDGER_AUTH_STATIC_TOKENS or RUNLEDGER_AUTH_STATIC_TOKENS_FILE")
    try:
        grants = _GRANTS.validate_python(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        # The message names positions and rules only: pydantic would echo input values, i.e. tokens.
        if isinstance(exc, ValidationError):
            why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
        else:
            why = f"not JSON (line {exc.lineno}, column {exc.colno})"
        raise ValueError(f"{where}: {why}") from None
    if len({token_digest(g.token.get_secret_value()) for g in grants}) != len(grants):
        raise ValueError(f"{where}: a token is listed twice")
    if twice := _user_listed_twice(grants):
        raise ValueError(f"{where}: user {twice!r} is listed twice; give each user one token and one list of namespaces")
    return grants


def _user_listed_twice(grants: list[StaticGrant]) -> str | None:
    seen: set[str] = set()
    for grant in grants:
        if grant.user in seen:
            return grant.user
        seen.add(grant.user)
    return None


class StaticAccess:
    def __init__(self, grants: list[StaticGrant]) -> None:
        # A request carries the identity, not the token; keyed by user, two grants of one user would
        # merge their namespaces, so each user must be one token's.
        if twice := _user_listed_twice(grants):
            raise ValueError(f"static grants: user {twice!r} is listed twice")
        self._by_digest = {token_digest(g.token.get_secret_value()): g for g in grants}
        self._namespaces = {g.user: set(g.namespaces) for g in grants}

    async def authenticate(self, token: str) -> Identity | None:
        grant = self._by_digest.get(token_digest(token))
        return Identity(user=grant.user, groups=grant.groups) if grant else None

    async def may_read(self, identity: Identity, namespace: str) -> bool:
        granted = self._namespaces.get(identity.user, set())
        return ALL_NAMESPACES in granted or (namespace != "" and namespace in granted)

    def granted(self, identity: Identity) -> frozenset[str] | None:
        """The namespaces listed for `identity` (None: all), including ones with no runs yet."""
        granted = self._namespaces.get(identity.user, set())
        return None if ALL_NAMESPACES in granted else frozenset(granted)


# ------------------------------------------------------------------------------------------ kubernetes


class KubernetesAccess:
    """TokenReview and SubjectAccessReview through the cluster's API server, cached."""

    def __init__(
        self, api: client.ApiClient, *, audiences: list[str], cache_seconds: float, cache_entries: int
    ) -> None:
        self._authn = client.AuthenticationV1Api(api)
        self._authz = client.AuthorizationV1Api(api)
        self._audiences = audiences
        self._tokens = TtlCache(ttl=cache_seconds, max_entries=cache_entries)
        self._reviews = TtlCache(ttl=cache_seconds, max_entries=cache_entries)

    async def authenticate(self, token: str) -> Identity | None:
        return await self._tokens.get(token_digest(token), lambda: self._review_token(token))

    async def may_read(self, identity: Identity, namespace: str) -> bool:
        return await self._reviews.get((identity, namespace), lambda: self._review_access(identity, namespace))

    async def _review_token(self, token: str) -> Identity | None:
        body = client.V1TokenReview(
            api_version="authentication.k8s.io/v1",
            kind="TokenReview",
            spec=client.V1TokenReviewSpec(token=token, audiences=self._audiences or None),
        )
        review = await _reviewed("TokenReview", self._authn.create_token_review(body, _request_timeout=REVIEW_TIMEOUT_SECONDS))
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            return None
        if self._audiences and not set(status.audiences or ()) & set(self._audiences):
            return None
        user = status.user
        return Identity(
            user=user.username or "",
            uid=user.uid or "",
            groups=tuple(user.groups or ()),
            extra=tuple(sorted((k, tuple(v or ())) for k, v in (user.extra or {}).items())),
        )

    async def _review_access(self, identity: Identity, namespace: str) -> bool:
        body = client.V1SubjectAccessReview(
            api_version="authorization.k8s.io/v1",
            kind="SubjectAccessReview",
            spec=client.V1SubjectAccessReviewSpec(
                user=identity.user,
                uid=identity.uid or None,
                groups=list(identity.groups) or None,
                extra=identity.extra_dict() or None,
                resource_attributes=client.V1ResourceAttributes(
                    namespace=namespace, verb=READ_VERB, group=READ_GROUP, resource=READ_RESOURCE
                ),
            ),
        )
        review = await _reviewed(
            "SubjectAccessReview", self._authz.create_subject_access_review(body, _request_timeout=REVIEW_TIMEOUT_SECONDS)
        )
        return bool(review.status is not None and review.status.allowed)


async def _reviewed(kind: str, call: Awaitable[V]) -> V:
    try:
        return await call
    except ApiException as exc:
        if exc.status in (401, 403):
            log.error("the API server refused runledger's %s (HTTP %s): check its RBAC (create %ss)", kind, exc.status,
                      kind.lower())  # fmt: skip
        else:
            log.warning("%s failed: HTTP %s %s", kind, exc.status, exc.reason)
        raise AccessUnavailable(f"the Kubernetes API could not review this request ({kind}: HTTP {exc.status})") from None
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        log.warning("%s failed: %s", kind, type(exc).__name__)
        raise AccessUnavailable(f"the Kubernetes API is unreachable ({kind})") from None


# ------------------------------------------------------------------------------------------ namespaces


async def readable_namespaces(
    access: Access, identity: Identity, *, known: Callable[[], Awaitable[list[str]]]
) -> frozenset[str] | None:
    """The namespaces `identity` may read among those runledger knows; None when it may read all.

    A static grant is its own list. A reviewer is asked about the namespaces runledger has runs in,
    so a namespace appearing later is readable from the next request (a stream: its next connection).
    """
    if isinstance(access, StaticAccess):
        return access.granted(identity)
    if await access.may_read(identity, ""):
        return None
    namespaces = await known()
    allowed: set[str] = set()
    gate = asyncio.Semaphore(REVIEW_CONCURRENCY)

    async def check(namespace: str) -> None:
        async with gate:
            if await access.may_read(identity, namespace):
                allowed.add(namespace)

    async with asyncio.TaskGroup() as group:
        for namespace in namespaces:
            group.create_task(check(namespace), name=f"access-review-{namespace}")
    return frozenset(allowed)
