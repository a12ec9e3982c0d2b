"""A run of two steps going Pending -> Running -> Succeeded, one watch event per change."""

from __future__ import annotations

from datetime import datetime

from tests.support.builders import WorkflowBuilder


def two_step_run(name: str = "wf-history") -> list[dict]:
    b = WorkflowBuilder(name)
    return [
        b.event("ADDED"),  # the run Pending, created at 00:00:00
        b.phase("Running", at="2026-01-01T00:00:05Z").node("a", "Pending", at="2026-01-01T00:00:10Z").event(),
        b.node("a", "Running").event(),
        b.node("b", "Pending", at="2026-01-01T00:00:20Z").event(),
        b.node("a", "Succeeded", at="2026-01-01T00:00:30Z").node("b", "Running").event(),
        b.node("b", "Succeeded", at="2026-01-01T00:00:40Z").phase("Succeeded", at="2026-01-01T00:00:45Z").event(),
    ]


def at(seconds: int) -> datetime:
    return datetime.fromisoformat(f"2026-01-01T00:00:{seconds:02d}+00:00")


# (step, from, to, at) of every phase change of `two_step_run`, in the order they happened.
TWO_STEP_HISTORY = [
    ("", None, "Pending", at(0)),
    ("", "Pending", "Running", at(5)),
    ("a", None, "Pending", at(10)),
    ("a", "Pending", "Running", at(10)),
    ("b", None, "Pending", at(20)),
    ("b", "Pending", "Running", at(20)),
    ("a", "Running", "Succeeded", at(30)),
    ("b", "Running", "Succeeded", at(40)),
    ("", "Running", "Succeeded", at(45)),
]
