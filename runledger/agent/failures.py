"""Which step failed a run, and the run's failure said with that step's name instead of a node id.

Argo's message for a failed workflow names a node by its id ("child 'churn-model-4pdln-4175283592'
failed"), often a DAG, Retry or TaskGroup node rather than the pod that failed, and often there is
no message at all. The failing step is worked out once, when the workflow is translated, from the
nodes alone: among the failed pods (and containers, HTTP and plugin steps: the nodes that run
something) under the node the message names, or anywhere when it names none,

* the most deeply nested one (a step inside a sub-DAG is closer to the cause than its DAG), then
* the one whose failure began first (a later failure downstream is usually a consequence), where
  the attempts of one retried step count as one failure, shown by its last attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from runledger.core.run_state import FailedStep, Step

FAILED_PHASES = frozenset({"Failed", "Error"})
RUNNING_TYPES = frozenset({"Pod", "Container", "HTTP", "Plugin"})
_QUOTED = re.compile(r"'([^'\s]{1,253})'")
_NEVER = datetime.max.timestamp()


def failing_step(
    *, phase: str, message: str | None, steps: Iterable[Step], edges: Iterable[tuple[str, str]]
) -> FailedStep | None:
    if phase not in FAILED_PHASES:
        return None
    by_id = {s.id: s for s in steps}
    named = [by_id[token] for token in _QUOTED.findall(message or "") if token in by_id]
    failed = [s for s in by_id.values() if s.phase in FAILED_PHASES and s.type in RUNNING_TYPES]
    if named:
        below = _below(named[0].id, edges)
        failed = [s for s in failed if s.id in below] or failed
    if not failed:
        return None  # failed for a reason no step shows: a deadline, a spec error
    parent_of: dict[str, str] = {}
    for parent, child in edges:
        parent_of.setdefault(child, parent)

    def order(step: Step) -> tuple[int, float, float]:
        retry = by_id.get(parent_of.get(step.id, ""))
        began = (retry if retry is not None and retry.type == "Retry" else step).started_at
        ended = step.finished_at.timestamp() if step.finished_at else _NEVER
        return (-_depth(step, by_id), began.timestamp() if began else _NEVER, -ended)

    chosen = min(failed, key=order)
    return FailedStep(id=chosen.id, name=chosen.display_name or chosen.name, template=chosen.template,
                      message=chosen.message, failure=_failure(message, named, chosen, by_id))  # fmt: skip


def _below(start: str, edges: Iterable[tuple[str, str]]) -> set[str]:
    children: dict[str, list[str]] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
    seen, todo = {start}, [start]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _depth(step: Step, by_id: dict[str, Step]) -> int:
    depth, seen, boundary = 0, {step.id}, step.boundary_id
    while boundary and boundary not in seen and boundary in by_id:  # a cycle is malformed input: stop
        seen.add(boundary)
        depth += 1
        boundary = by_id[boundary].boundary_id
    return depth


def _shown(step: Step) -> str:
    name = f"'{step.display_name or step.name}'"
    return f"{name} (template {step.template})" if step.template else name


def _failure(message: str | None, named: list[Step], chosen: Step, by_id: dict[str, Step]) -> str:
    said = f": {chosen.message}" if chosen.message else ""
    if not message or not named:
        return f"step {_shown(chosen)} failed{said}"
    rewritten = _QUOTED.sub(lambda m: _shown(by_id[m[1]]) if m[1] in by_id else m[0], message)
    if named[0].id == chosen.id:
        return f"{rewritten}{said}"
    return f"{rewritten}: step {_shown(chosen)} failed{said}"
