"""The query commands' tables: aligned columns, cut to the terminal in the shrinkable columns only,
colour that never skews the alignment, and runs' steps drawn as a tree."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from runledger.client.models import StepIO, StepOut
from runledger.client.output import Column, duration, render_table
from runledger.client.views import step_tree

COLUMNS = [Column("NAME"), Column("PHASE", phase=True), Column("PIPELINE", shrink=True)]
ROWS = [["train-abc", "Succeeded", "a-very-long-pipeline-name-indeed"], ["eval", "Failed", "short"]]


def test_columns_are_as_wide_as_their_widest_cell_two_spaces_apart():
    assert render_table(COLUMNS, ROWS, width=None).splitlines() == [
        "NAME       PHASE      PIPELINE",
        "train-abc  Succeeded  a-very-long-pipeline-name-indeed",
        "eval       Failed     short",
    ]


def test_a_narrow_terminal_cuts_the_shrinkable_column_and_keeps_names_whole():
    lines = render_table(COLUMNS, ROWS, width=36).splitlines()
    assert lines[1] == "train-abc  Succeeded  a-very-long-p…"
    assert all(len(line) <= 36 for line in lines)


def test_a_column_is_never_cut_below_its_header_and_what_cannot_fit_overflows():
    lines = render_table(COLUMNS, ROWS, width=10).splitlines()
    assert lines[1] == "train-abc  Succeeded  a-very-…"


def test_colour_surrounds_the_phase_without_moving_the_next_column():
    plain = render_table(COLUMNS, ROWS, width=None)
    coloured = render_table(COLUMNS, ROWS, width=None, colour=True)
    assert "\033[32mSucceeded\033[0m" in coloured and "\033[31mFailed\033[0m" in coloured
    assert re.sub(r"\033\[[0-9;]*m", "", coloured) == plain


def test_durations_read_like_kubectls_ages():
    assert [duration(s) for s in (None, 5, 60, 192, 3600, 7500, 86400, 97200)] == \
        ["-", "5s", "1m", "3m12s", "1h", "2h5m", "1d", "1d3h"]  # fmt: skip


def _step(id: str, *, type: str = "Pod", parents: tuple[str, ...] = (), boundary: str | None = None, at: int = 0) -> StepOut:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=at)
    return StepOut(id=id, name=f"wf.{id}", display_name=id, type=type, template=None, phase="Succeeded",
                   boundary_id=boundary, pod_name=None, started_at=start, finished_at=None, exit_code=None,
                   message=None, host_node=None, parents=list(parents), children=[], inputs=StepIO(), outputs=StepIO(),
                   resources_duration={})  # fmt: skip


def test_dag_tasks_are_siblings_under_their_dag_and_retry_attempts_hang_under_their_retry():
    steps = [
        _step("wf", type="DAG"),
        _step("train", parents=("wf",), boundary="wf", at=1),
        _step("eval", type="Retry", parents=("train",), boundary="wf", at=2),
        _step("eval(0)", parents=("eval",), boundary="wf", at=3),
        _step("eval(1)", parents=("eval",), boundary="wf", at=4),
    ]
    assert [prefix + step.id for prefix, step in step_tree(steps)] == [
        "wf", "├─ train", "└─ eval", "   ├─ eval(0)", "   └─ eval(1)",
    ]
