"""How a peer process talks to bench.peers: JSON lines on stdin/stdout, timing done in the peer.

Standard library only: it runs inside each peer's own virtual environment. Requests:

    {"op": "load", "dataset": PATH, "config": {...}}   -> {"ok": true, "seconds": s, "peak_rss_mb": m}
    {"op": "ask", "question": {...}, "calls": N}       -> {"ok": true, "samples_ms": [...], "answer": [...]}
                                                          ("answer": null: the system cannot answer it)
    {"op": "quit"}

A failure is {"ok": false, "error": "one line"}; the traceback goes to stderr (a log file). The
peer's libraries may print: the protocol keeps a private copy of stdout and points fd 1 at stderr.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Protocol

WARMUP_CALLS = 3


class Peer(Protocol):
    def prepare(self, *, config: dict) -> None:
        """Connect and create the schema: not timed."""

    def load(self, *, dataset: dict) -> None: ...

    def answerer(self, question: dict) -> Callable[[], list[str]] | None: ...


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(call: Callable[[], list[str]], *, calls: int) -> tuple[list[float], list[str]]:
    answer: list[str] = []
    for _ in range(WARMUP_CALLS):
        answer = call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, answer


def _handle(peer: Peer, request: dict) -> dict:
    if request["op"] == "load":
        with open(request["dataset"], "rb") as f:
            dataset = json.load(f)
        peer.prepare(config=request["config"])
        started = time.perf_counter()
        peer.load(dataset=dataset)
        return {"ok": True, "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}
    if request["op"] == "ask":
        call = peer.answerer(request["question"])
        if call is None:
            return {"ok": True, "samples_ms": [], "answer": None}
        samples, answer = timed(call, calls=request["calls"])
        return {"ok": True, "samples_ms": samples, "answer": answer}
    return {"ok": False, "error": f"unknown op {request['op']!r}"}


def serve(make_peer: Callable[[], Peer]) -> None:
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    peer = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        try:
            peer = peer or make_peer()
            reply = _handle(peer, request)
        except Exception as exc:  # noqa: BLE001 - whatever a peer's library raises: one line back, the story to the log
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
