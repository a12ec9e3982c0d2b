"""Phase changes, and when the object says they happened.

The queue keeps one state per run, so a state the writer never saw would take its phases with it
(a run's Pending, a step's Running). What it recorded is kept instead, as ``PhaseChange``s the newer
state carries to the writer, which stores them as transitions before its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runledger.core.run_state import TERMINAL_PHASES, RunState, Step


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """A run (step_id '') or a step was seen in `phase`, by a state at `resource_version` that a newer
    state replaced before it was written."""

    step_id: str
    phase: str
    at: datetime
    resource_version: str | None


@dataclass(frozen=True, slots=True)
class Seen:
    """What the agent saw of a run besides the state it writes."""

    arrived_at: datetime  # when that state arrived: the time of a phase its object does not date
    earlier: tuple[PhaseChange, ...] = ()  # phases of the states it replaced, oldest first


def step_phase_at(step: Step) -> datetime | None:
    """When the object says the step entered its phase (Argo stamps startedAt when a node is created)."""
    if step.phase in TERMINAL_PHASES:
        return step.finished_at or step.started_at
    return step.started_at


def run_phase_at(state: RunState) -> datetime | None:
    run = state.run
    if run.phase in TERMINAL_PHASES:
        return run.finished_at or run.started_at or run.created_at
    if run.phase == "Running":
        return run.started_at or run.created_at
    return run.created_at


def replaced_phases(older: RunState, newer: RunState, *, arrived_at: datetime) -> list[PhaseChange]:
    """The phases `older` records that `newer` no longer does: what replacing `older` would lose.

    Steps before the run, as the writer orders a state's own transitions.
    """
    rv = older.run.resource_version
    changes: list[PhaseChange] = []
    if older.steps:
        now_in = {step.id: step.phase for step in newer.steps}
        for step in older.steps:
            if step.phase and now_in.get(step.id) != step.phase:
                changes.append(PhaseChange(step.id, step.phase, step_phase_at(step) or arrived_at, rv))
    if older.run.phase and older.run.phase != newer.run.phase:
        changes.append(PhaseChange("", older.run.phase, run_phase_at(older) or arrived_at, rv))
    return changes
