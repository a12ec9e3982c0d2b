"""Where the query commands find their server and their bearer token.

The server: ``--server``, else RUNLEDGER_SERVER, else the address ``runledger run`` serves by default.
The token: ``--token``, else RUNLEDGER_TOKEN, else the token of the current kubeconfig context's user
(RUNLEDGER_AUTH_MODE=kubernetes checks exactly that token with a TokenReview). Only the ``token``
field is read; exec plugins and client certificates are not run or used. A kubeconfig token is a
cluster credential, so it is sent only over https or to a loopback address (``kubectl port-forward``),
never in clear text across a network.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from runledger.client.session import DEFAULT_SERVER


class ConfigError(Exception):
    """A setting the user must fix; the message says which and how."""


def server_url(flag: str | None, *, env: Mapping[str, str]) -> str:
    server = flag or env.get("RUNLEDGER_SERVER") or DEFAULT_SERVER
    parts = urlsplit(server if "://" in server else f"http://{server}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the server address {server!r} is not an http(s) URL; "
                          "pass --server http://HOST:PORT or set RUNLEDGER_SERVER")  # fmt: skip
    return parts.geturl().rstrip("/")


def bearer_token(flag: str | None, *, server: str, env: Mapping[str, str]) -> str | None:
    if flag or env.get("RUNLEDGER_TOKEN"):
        return flag or env["RUNLEDGER_TOKEN"]
    parts = urlsplit(server)
    if parts.scheme != "https" and not _loopback(parts.hostname or ""):
        return None
    return kubeconfig_token(env=env)


def kubeconfig_token(*, env: Mapping[str, str]) -> str | None:
    """The current context's user token, from the first file of KUBECONFIG (or ~/.kube/config)."""
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    path = Path(listed[0]) if listed else Path.home() / ".kube" / "config"
    if not path.is_file():
        return None
    import yaml  # only when a kubeconfig is there to read

    try:
        config = yaml.safe_load(path.read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config.get("contexts") or [] if c.get("name") == context_name)
        user = next(u.get("user") or {} for u in config.get("users") or [] if u.get("name") == context.get("user"))
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the token of kubeconfig {path}: {type(exc).__name__}; "
                          "fix the file, or pass --token / set RUNLEDGER_TOKEN") from exc  # fmt: skip
    except StopIteration:
        return None  # no current context, or its user is not listed: no token to send
    token = user.get("token")
    return token if isinstance(token, str) and token else None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
