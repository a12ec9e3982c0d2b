"""Loading the real fixtures, and deriving the variants real clusters produce from them."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml


def load(path: Path) -> dict[str, Any]:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def raw_nodes(obj: dict[str, Any]) -> dict[str, Any]:
    """status.nodes, decoding status.compressedNodes the way Argo's packer encodes it."""
    status = obj.get("status") or {}
    if status.get("nodes"):
        return status["nodes"]
    if status.get("compressedNodes"):
        return json.loads(gzip.decompress(base64.b64decode(status["compressedNodes"])))
    return {}


def _rfc3339(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def compressed(obj: dict[str, Any]) -> dict[str, Any]:
    """The same workflow with its nodes moved into status.compressedNodes (gzip + base64)."""
    out = copy.deepcopy(obj)
    nodes = raw_nodes(out)
    out["status"].pop("nodes", None)
    packed = gzip.compress(json.dumps(nodes, default=_rfc3339).encode())
    out["status"]["compressedNodes"] = base64.b64encode(packed).decode()
    return out


def offloaded(obj: dict[str, Any]) -> dict[str, Any]:
    """The same workflow as Argo leaves it when node status is offloaded to its database."""
    out = copy.deepcopy(obj)
    out["status"].pop("nodes", None)
    out["status"].pop("compressedNodes", None)
    out["status"]["offloadNodeStatusVersion"] = "fnv:784459423"
    return out


def with_status(obj: dict[str, Any]) -> bool:
    return bool(raw_nodes(obj))
