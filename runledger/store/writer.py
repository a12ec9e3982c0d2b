"""Write side: persist ``RunState``s, writing only what changed, many runs per transaction.

For every run the writer remembers what it last persisted as fingerprints (64-bit hashes of the
written columns), not as objects. A new state is diffed against them: unchanged steps, edges,
parameters and artifact references cost nothing; changed ones become rows in column arrays that
one statement per table writes for the whole batch (group commit). A transition row is appended
whenever a run or a step enters a new phase: first for each phase a state the queue replaced had
recorded (``Seen.earlier``; those not newer than what is stored were written, or superseded, already),
then for the state's own, each from the phase before it, in that order (the order of their ids).

Fingerprints are also stored in the rows, so a cache miss (a restart, an evicted run) reloads them
with one query per table for the whole batch rather than re-reading whole rows.

States older than what is stored are dropped: Kubernetes resourceVersions are etcd revisions,
integers that only grow (comparable since KEP-5504), so an older one means an older object. Where a
resourceVersion is absent or no revision (not a decimal int64: hand-written files, a corrupted
value) it orders nothing and arrival order decides; it is stored as it came, as text.

A run belongs to the namespace/name it was first stored under. A state of another namespace/name
with the same uid (so the same run id) is refused: one tenant's object never takes over, rewrites
or deletes another tenant's run.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import sys
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

import asyncpg
import orjson

from runledger.core.models import RunState, Step
from runledger.core.phases import Seen, run_phase_at, step_phase_at
from runledger.store.sql_blocks import q

log = logging.getLogger(__name__)

ParamKey = tuple[str, str, str]  # (step_id, direction, name)


def fingerprint(*values: Any) -> int:
    return _fingerprint(values)


def _fingerprint(values: tuple, _dumps=orjson.dumps, _option=orjson.OPT_NON_STR_KEYS, _hash=hashlib.blake2b) -> int:
    return int.from_bytes(_hash(_dumps(values, option=_option), digest_size=8).digest(), "big", signed=True)


@dataclass(slots=True)
class Persisted:
    """What is in the database for one run, as fingerprints.

    One per cached run, so kept small: slots; the edges as the tuple the state already holds (a
    set of the same pairs takes several times the memory); step fingerprints and phases in two dicts
    of plain values, which the cyclic collector never has to scan, rather than a tuple per step.
    """

    fp: int
    phase: str
    resource_version: str | None
    deleted: bool
    namespace: str  # with name, whose run this is: another object with its uid is refused
    name: str
    steps: dict[str, int] = field(default_factory=dict)  # id -> fp
    step_phases: dict[str, str] = field(default_factory=dict)  # id -> phase
    edges: tuple[tuple[str, str], ...] = ()  # (parent, child), unique
    parameters: dict[ParamKey, int] = field(default_factory=dict)
    artifacts: dict[ParamKey, int] = field(default_factory=dict)


class ConcurrentWrite(Exception):
    """Another writer stored a run of the batch after this one read it: nothing of the batch is written."""


@dataclass
class WriteResult:
    runs_written: int = 0
    runs_unchanged: int = 0
    runs_stale: int = 0
    runs_conflicting: int = 0  # states refused: their run id is another namespace/name's run
    rows: int = 0  # rows inserted, updated or deleted, transitions included
    transitions: int = 0


class _Columns:
    """Rows for one statement, kept as columns (what unnest() takes)."""

    def __init__(self, width: int) -> None:
        self.cols: list[list[Any]] = [[] for _ in range(width)]

    def add(self, *row: Any) -> None:
        for col, value in zip(self.cols, row, strict=True):
            col.append(value)

    def __len__(self) -> int:
        return len(self.cols[0])


class _Batch:
    def __init__(self) -> None:
        self.runs = _Columns(21)
        self.steps = _Columns(15)
        self.step_deletes = _Columns(2)
        self.edge_inserts = _Columns(3)
        self.edge_deletes = _Columns(3)
        self.params = _Columns(7)
        self.param_deletes = _Columns(4)
        self.artifacts = _Columns(16)
        self.artifact_deletes = _Columns(4)
        self.transitions = _Columns(5)

    def statements(self) -> list[tuple[str, list[Any], int]]:
        """(query name, arguments, rows of run state it writes) for every statement with work to do."""
        # Parents before children (foreign keys), deletes before upserts of the same table.
        # Artifact discovery and queueing are bookkeeping of the indexer, not run state: not counted.
        ordered = [
            ("upsert_runs", self.runs),
            ("delete_steps", self.step_deletes),
            ("upsert_steps", self.steps),
            ("delete_edges", self.edge_deletes),
            ("insert_edges", self.edge_inserts),
            ("delete_parameters", self.param_deletes),
            ("upsert_parameters", self.params),
            ("delete_artifact_refs", self.artifact_deletes),
            ("upsert_artifact_refs", self.artifacts),
            ("insert_transitions", self.transitions),
        ]
        found = [(name, cols.cols, len(cols)) for name, cols in ordered if len(cols)]
        discovered = self._discovered()
        if len(discovered):
            at = [name for name, _, _ in found].index("upsert_artifact_refs")
            found.insert(at, ("discover_artifacts", discovered.cols, 0))
            found.insert(at + 2, ("enqueue_artifacts", self._to_index(), 0))
        return found

    def _discovered(self) -> _Columns:
        cols = _Columns(7)
        a = self.artifacts.cols
        for uri, bucket, key, endpoint, region, insecure, direction in zip(a[14], a[6], a[7], a[8], a[9], a[10], a[2]):
            if uri is not None:
                cols.add(uri, bucket, key, endpoint, region, insecure, direction)
        return cols

    def _to_index(self) -> list[Any]:
        outputs: set[str] = set()
        inputs: set[str] = set()
        for uri, direction in zip(self.artifacts.cols[14], self.artifacts.cols[2]):
            if uri is not None:
                (outputs if direction == "output" else inputs).add(uri)
        return [sorted(outputs), sorted(inputs - outputs)]


def affected(status: str) -> int:
    """Rows a statement inserted, updated or deleted, from its command status ("INSERT 0 3")."""
    return int(status.rsplit(" ", 1)[-1])


_MAX_REVISION = 2**63 - 1  # etcd revisions are int64


def revision(resource_version: str | None) -> int | None:
    """The etcd revision a resourceVersion holds, or None when it holds none."""
    rv = resource_version
    # The length check first: int() of an unbounded string is slow, and refused past 4,300 digits.
    if not rv or len(rv) > 19 or not rv.isascii() or not rv.isdigit():
        return None
    value = int(rv)
    return value if value <= _MAX_REVISION else None


def is_stale(incoming: str | None, stored: str | None) -> bool:
    """Whether a state at `incoming` is older than one at `stored` (never when either is no revision)."""
    new, old = revision(incoming), revision(stored)
    return new is not None and old is not None and new < old


class RunWriter:
    def __init__(self, *, cache_runs: int = 100_000) -> None:
        self._cache: OrderedDict[str, Persisted] = OrderedDict()
        self._cache_runs = cache_runs

    @property
    def cached_runs(self) -> int:
        return len(self._cache)

    def forget(self, run_ids: list[str]) -> None:
        """Drop cached fingerprints (after a failed transaction the database is the truth again)."""
        for run_id in run_ids:
            self._cache.pop(run_id, None)

    async def write(
        self, conn: asyncpg.Connection, states: list[RunState], *, seen: Mapping[str, Seen] | None = None
    ) -> WriteResult:
        """Persist `states` (at most one per run) in one transaction, with what was `seen` of their runs."""
        result = WriteResult()
        if not states:
            return result
        ids = [s.run.id for s in states]
        if len(set(ids)) != len(ids):
            raise ValueError("a batch holds at most one state per run")
        now = datetime.now(timezone.utc)
        try:
            async with conn.transaction():
                await self._load_missing(conn, [i for i in ids if i not in self._cache])
                batch = _Batch()
                updates: dict[str, Persisted] = {}
                for state in states:
                    before = self._cache.get(state.run.id)
                    if before is not None and _conflicts(state, before):
                        result.runs_conflicting += 1
                        continue
                    if before is not None and is_stale(state.run.resource_version, before.resource_version):
                        result.runs_stale += 1
                        continue
                    after = self._diff(state, before, batch, now)
                    _transitions(state, before, (seen or {}).get(state.run.id), batch, now)
                    if after is None:
                        result.runs_unchanged += 1
                    else:
                        updates[state.run.id] = after
                        result.runs_written += 1
                for name, args, rows in batch.statements():
                    written = affected(await conn.execute(q(name), *args))
                    if name == "upsert_runs" and written != rows:
                        raise ConcurrentWrite(f"{rows - written} run(s) stored by another writer meanwhile")
                    result.rows += rows
                result.transitions = len(batch.transitions)
        except BaseException:
            self.forget(ids)
            raise
        for run_id, persisted in updates.items():
            self._cache[run_id] = persisted
        for run_id in ids:
            if run_id in self._cache:
                self._cache.move_to_end(run_id)
        while len(self._cache) > self._cache_runs:
            self._cache.popitem(last=False)
        return result

    async def _load_missing(self, conn: asyncpg.Connection, ids: list[str]) -> None:
        if not ids:
            return
        loaded: dict[str, Persisted] = {}
        for r in await conn.fetch(q("load_run_fingerprints"), ids):
            loaded[r["id"]] = Persisted(
                r["fp"], r["phase"], r["resource_version"], r["deleted"], sys.intern(r["namespace"]), r["name"]
            )
        found = list(loaded)
        if found:
            for r in await conn.fetch(q("load_step_fingerprints"), found):
                persisted = loaded[r["run_id"]]
                persisted.steps[r["id"]] = r["fp"]
                persisted.step_phases[r["id"]] = r["phase"]
            edges: dict[str, list[tuple[str, str]]] = {}
            for r in await conn.fetch(q("load_edges"), found):
                edges.setdefault(r["run_id"], []).append((r["parent_id"], r["child_id"]))
            for run_id, pairs in edges.items():
                loaded[run_id].edges = tuple(pairs)
            for r in await conn.fetch(q("load_parameter_fingerprints"), found):
                loaded[r["run_id"]].parameters[(r["step_id"], r["direction"], r["name"])] = r["fp"]
            for r in await conn.fetch(q("load_artifact_fingerprints"), found):
                loaded[r["run_id"]].artifacts[(r["step_id"], r["direction"], r["name"])] = r["fp"]
        self._cache.update(loaded)

    def _diff(self, state: RunState, before: Persisted | None, batch: _Batch, now: datetime) -> Persisted | None:
        """Queue the rows that differ from `before`; returns the new fingerprints, or None if nothing changed."""
        run = state.run
        rid = run.id
        labels = orjson.dumps(run.labels, option=orjson.OPT_SORT_KEYS).decode()
        params = orjson.dumps(run.parameters, option=orjson.OPT_SORT_KEYS).decode()
        counts = orjson.dumps(run.step_counts, option=orjson.OPT_SORT_KEYS).decode()
        run_row = (
            rid, run.namespace, run.name, run.uid, run.kfp_run_id, run.pipeline_name, run.scheduled_workflow,
            run.phase, run.message, run.created_at, run.started_at, run.finished_at, labels, params, counts,
            run.nodes_offloaded,
        )  # fmt: skip
        # resourceVersion is left out on purpose: a new version with the same content is no change.
        run_fp = fingerprint(*run_row, state.deleted)
        if run.shutdown is not None:
            # Only when set: runs stored before shutdown was recorded keep matching their fingerprints,
            # so an upgrade does not rewrite every run.
            run_fp = fingerprint(run_fp, run.shutdown)
        failed_step = None
        if run.failed_step is not None:
            # Likewise only when set.
            failed_step = run.failed_step.model_dump_json()
            run_fp = fingerprint(run_fp, failed_step)
        after = Persisted(run_fp, run.phase, run.resource_version, state.deleted, sys.intern(run.namespace), run.name)
        changed = before is None or before.fp != run_fp
        old = before or Persisted(0, "", None, False, "", "")

        fps, phases, old_fps = after.steps, after.step_phases, old.steps
        for step in state.steps:
            step_fp = _step_fingerprint(step)
            fps[step.id] = step_fp
            phases[step.id] = step.phase
            if old_fps.get(step.id) == step_fp:
                continue
            changed = True
            batch.steps.add(
                rid, step.id, step.name, step.display_name, step.type, step.template, step.phase, step.boundary_id,
                step.pod_name, step.started_at, step.finished_at, step.exit_code, step.message, step.host_node,
                step_fp,
            )  # fmt: skip
        for step_id in old.steps.keys() - after.steps.keys():
            changed = True
            batch.step_deletes.add(rid, step_id)

        after.edges = state.edges
        # Usually the very same pairs in the same order; only a difference needs the sets.
        if state.edges != old.edges:
            new_edges, old_edges = set(state.edges), set(old.edges)
            for parent, child in state.edges:
                if (parent, child) not in old_edges:
                    changed = True
                    batch.edge_inserts.add(rid, parent, child)
            for parent, child in old.edges:
                if (parent, child) not in new_edges:
                    changed = True
                    batch.edge_deletes.add(rid, parent, child)

        for p in state.parameters:
            key = (p.step_id, p.direction, p.name)
            p_fp = fingerprint(p.value, p.truncated)
            after.parameters[key] = p_fp
            if old.parameters.get(key) != p_fp:
                changed = True
                batch.params.add(rid, p.step_id, p.direction, p.name, p.value, p.truncated, p_fp)
        for key in old.parameters.keys() - after.parameters.keys():
            changed = True
            batch.param_deletes.add(rid, *key)

        for a in state.artifacts:
            key = (a.step_id, a.direction, a.name)
            row = (
                a.path, a.storage, a.s3_bucket, a.s3_key, a.s3_endpoint, a.s3_region, a.s3_insecure,
                a.location_source, a.archive, a.optional, a.uri,
            )  # fmt: skip
            a_fp = fingerprint(*row)
            after.artifacts[key] = a_fp
            if old.artifacts.get(key) != a_fp:
                changed = True
                batch.artifacts.add(rid, *key, *row, a_fp)
        for key in old.artifacts.keys() - after.artifacts.keys():
            changed = True
            batch.artifact_deletes.add(rid, *key)

        if not changed:
            return None
        deleted_at = (state.deletion_timestamp or now) if state.deleted else None
        batch.runs.add(*run_row, deleted_at, run.resource_version, run_fp, run.shutdown, failed_step)
        return after


def _transitions(state: RunState, before: Persisted | None, seen: Seen | None, batch: _Batch, now: datetime) -> None:
    """Queue a transition for every phase change from what `before` holds, through `seen.earlier`, to `state`.

    Each run's or step's in the order they were seen. With earlier phases among them, the chains are
    interleaved by time (each kept in its order), so the event feed tells a backlog as it happened.
    """
    rid = state.run.id
    chains: dict[str, list[tuple[str, str, str | None, str, datetime]]] = {}  # step id ('' the run) -> rows

    def enter(step_id: str, phase: str, at: datetime) -> None:
        chain = chains.get(step_id)
        if chain:
            previous = chain[-1][3]
        elif before is None:
            previous = None
        else:
            previous = before.phase if step_id == "" else before.step_phases.get(step_id)
        if phase and phase != previous:
            chains.setdefault(step_id, []).append((rid, step_id, previous, phase, at))

    for change in seen.earlier if seen else ():
        if before is None or not _not_newer(change.resource_version, before.resource_version):
            enter(change.step_id, change.phase, change.at)
    interleave = bool(chains)
    fallback = seen.arrived_at if seen else now
    for step in state.steps:
        enter(step.id, step.phase, step_phase_at(step) or fallback)
    enter("", state.run.phase, run_phase_at(state) or fallback)
    rows = heapq.merge(*chains.values(), key=itemgetter(4)) if interleave else itertools.chain(*chains.values())
    for row in rows:
        batch.transitions.add(*row)


def _not_newer(incoming: str | None, stored: str | None) -> bool:
    """Whether a state at `incoming` is no newer than one at `stored` (never when either is no revision)."""
    new, old = revision(incoming), revision(stored)
    return new is not None and old is not None and new <= old


def _conflicts(state: RunState, before: Persisted) -> bool:
    run = state.run
    if (run.namespace, run.name) == (before.namespace, before.name):
        return False
    log.warning(
        "refused run %s/%s: uid %s belongs to %s/%s", run.namespace, run.name, run.uid, before.namespace, before.name
    )
    return True


def _step_fingerprint(step: Step) -> int:
    return _fingerprint((
        step.name, step.display_name, step.type, step.template, step.phase, step.boundary_id, step.pod_name,
        step.started_at, step.finished_at, step.exit_code, step.message, step.host_node,
    ))  # fmt: skip
