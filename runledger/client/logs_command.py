"""``runledger logs RUN [STEP] [--follow]``: the archived logs of a run's steps, as ``argo logs`` prints them.

A step is named by its node id, its display name or its template; a name several steps share, or no
name at all, prints each of them in the order they started, under a header line. The bytes are
written as the server sends them, so a log of any size costs one chunk of memory. ``--follow`` asks
again, with the one backoff, until the run has finished: a step's log is archived when the step ends,
so what follows a running workflow is each step's log as it lands.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO

from runledger.client.errors import NotFound, RunledgerError
from runledger.client.models import RunOut, StepOut
from runledger.client.session import RunledgerClient
from runledger.core.backoff import Backoff

FINISHED_RUN = ("Succeeded", "Failed", "Error")


class _Writer:
    """Log bytes to stdout, a header line before each step's when there are several."""

    def __init__(self, stream: BinaryIO, *, headers: bool) -> None:
        self.stream, self.headers = stream, headers
        self.current: str | None = None
        self.at_line_start = True

    def write(self, step: StepOut, chunk: bytes) -> None:
        if self.headers and self.current != step.id:
            self.line(f"==> {step.display_name or step.name} ({step.id}) <==")
        self.current = step.id
        if chunk:
            self.stream.write(chunk)
            self.stream.flush()
            self.at_line_start = chunk.endswith(b"\n")

    def line(self, text: str) -> None:
        self.stream.write(("" if self.at_line_start else "\n").encode() + text.encode() + b"\n")
        self.stream.flush()
        self.at_line_start = True


def chosen_steps(steps: Iterable[StepOut], name: str | None) -> list[StepOut]:
    """The steps ``name`` means (all that may hold a log when None), in the order they started."""
    steps = list(steps)
    if name is None:
        picked = [s for s in steps if s.type == "Pod" or any(a.name.endswith("-logs") for a in s.outputs.artifacts)]
    else:
        picked = ([s for s in steps if s.id == name] or [s for s in steps if name in (s.display_name, s.name)]
                  or [s for s in steps if s.template == name])  # fmt: skip
    return sorted(picked, key=lambda s: (s.started_at is None, s.started_at or datetime.min, s.id))


def logs(client: RunledgerClient, args: argparse.Namespace, out: object) -> None:
    run = client.find_run(args.run)
    writer = _Writer(sys.stdout.buffer, headers=args.step is None)
    if args.follow:
        _follow(client, run, args.step, writer)
        return
    steps = chosen_steps(client.list_steps(run.id), args.step)
    if not steps:
        raise NotFound(_no_step(run, args.step))
    writer.headers = writer.headers or len(steps) > 1
    for step in steps:
        try:
            for chunk in client.step_log(run.id, step.id):
                writer.write(step, chunk)
        except NotFound as exc:
            if not writer.headers:
                raise
            # Among several steps, one without a log (archiveLogs off, not an S3 one) is said and passed.
            writer.write(step, b"")
            print(f"runledger: {exc}", file=sys.stderr, flush=True)


def _follow(client: RunledgerClient, run: RunOut, name: str | None, writer: _Writer) -> None:
    offsets: dict[str, int] = {}
    done: set[str] = set()
    backoff = Backoff(0.5, 5.0)
    while True:
        # The run's phase first: a pass that starts after it finished has every log there is to read.
        run = client.get_run(run.id)
        finished = run.phase in FINISHED_RUN or run.finished_at is not None
        steps = chosen_steps(client.list_steps(run.id), name)
        if finished and not steps and name is not None:
            raise NotFound(_no_step(run, name))
        writer.headers = writer.headers or len(steps) > 1
        moved = False
        for step in (s for s in steps if s.id not in done):
            try:
                for chunk in client.step_log(run.id, step.id, offset=offsets.get(step.id, 0)):
                    writer.write(step, chunk)
                    offsets[step.id] = offsets.get(step.id, 0) + len(chunk)
                    moved = True
            except RunledgerError as exc:
                if step.finished_at is None and not finished:
                    continue  # not archived yet: it is when the step ends
                if not isinstance(exc, NotFound):
                    raise
                print(f"runledger: {exc}", file=sys.stderr, flush=True)
            if step.finished_at is not None:
                done.add(step.id)
        if finished:
            return
        if moved:
            backoff.reset()
        time.sleep(backoff.next())


def _no_step(run: RunOut, name: str | None) -> str:
    if name is None:
        return f"run {run.namespace}/{run.name} has no step that ran a pod, so no log"
    return (f"no step {name!r} in run {run.namespace}/{run.name}: give a step id, display name or template "
            "(`runledger runs get RUN` lists them)")  # fmt: skip
