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
from array import array
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any, NamedTuple

import asyncpg
import orjson

from runledger.core.run_state import TERMINAL_PHASES, ArtifactRef, Parameter, Run, RunState, Step
from runledger.core.phases import Seen, run_phase_at, step_phase_at
from runledger.store.rollups import rollups_kept
from runledger.store.sql_blocks import q
from runledger.store.write_rows import (
    ArtifactRefRow,
    ArtifactRow,
    EdgeRow,
    ParameterRow,
    RefKey,
    RunRow,
    StepKey,
    StepRow,
    TransitionRow,
    arrays,
    statement,
)

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


@dataclass(slots=True)
class Packed:
    """A ``Persisted`` as the cache keeps it between writes: two strings instead of dicts.

    The cache holds every run the agent has seen (100,000 by default), so what one run costs there is
    what the agent's memory grows by: a run of ten steps with ~25 parameters and ~27 artifact
    references took ~14 KB as dicts of tuples, strings and ints (and pinned the allocator's arenas of
    the objects they came from). Packed, it is one JSON text of its ids and keys (each id once, then
    referred to by position) and one array of the 64-bit fingerprints: ~3 KB for that run, ~0.9 KB
    for ten plain steps, and nothing for the cyclic collector to scan. It is unpacked for the one
    write that diffs against it.
    """

    fp: int
    phase: str
    resource_version: str | None
    deleted: bool
    namespace: str
    name: str
    keys: str  # JSON: [ids, [[id index, phase], ...], [[parent, child], ...], params, artifacts]
    fps: bytes  # array("q"): the step, parameter, then artifact fingerprints, in the order of `keys`


def pack(p: Persisted) -> Packed | Persisted:
    """The cache's form of `p` (itself when a string will not encode, e.g. a lone surrogate)."""
    ids: dict[str, int] = {}
    at = ids.setdefault
    phases = p.step_phases
    try:
        # Decoded: a str of its own length, where orjson's bytes would keep their 4 KB buffer.
        keys = orjson.dumps([
            ids, [(at(i, len(ids)), phases.get(i)) for i in p.steps],
            [(at(a, len(ids)), at(b, len(ids))) for a, b in p.edges],
            [(at(s, len(ids)), d, n) for s, d, n in p.parameters],
            [(at(s, len(ids)), d, n) for s, d, n in p.artifacts],
        ]).decode()  # fmt: skip
    except orjson.JSONEncodeError:
        return p
    fps = array("q", p.steps.values())
    fps.extend(p.parameters.values())
    fps.extend(p.artifacts.values())
    phase = sys.intern(p.phase) if p.phase else p.phase
    return Packed(p.fp, phase, p.resource_version, p.deleted, p.namespace, p.name, keys, fps.tobytes())


def unpack(p: Packed | Persisted | None) -> Persisted | None:
    if not isinstance(p, Packed):
        return p
    ids, steps, edges, params, artifacts = orjson.loads(p.keys)
    names = list(ids)  # orjson keeps the order the ids were numbered in
    fps = array("q")
    fps.frombytes(p.fps)
    values = iter(fps)
    out = Persisted(p.fp, p.phase, p.resource_version, p.deleted, p.namespace, p.name)
    out.steps = {names[i]: next(values) for i, _ in steps}
    out.step_phases = {names[i]: phase for i, phase in steps if phase is not None}
    out.edges = tuple((names[a], names[b]) for a, b in edges)
    out.parameters = {(names[i], d, n): next(values) for i, d, n in params}
    out.artifacts = {(names[i], d, n): next(values) for i, d, n in artifacts}
    return out


# Only a running workflow this large has its unchanged nodes' objects given back by the agent's node memo
# (agent.ingest.MEMO_MIN_NODES): for a smaller one the objects are new every time and nothing is kept.
KNOWN_MIN_STEPS = 50
# Objects (steps, parameters, artifact references) kept at most: ~2 MB where the memo holds the same
# objects, as it does for the workflows it keeps; ~50 MB at worst, were none of them in a memo.
KNOWN_OBJECTS = 50_000


class _Known(NamedTuple):
    """The fingerprints of the steps, parameters and artifact references of a run's last written state, by
    position, with the tuples they were computed from.

    Models are frozen, so a fingerprint is a function of its object: one found at its position, the very
    object (kept alive here, so its identity cannot pass to another), need not be fingerprinted again.
    Of a 2,000-node workflow's event, where one node changed, that was most of the writer's diff.
    """

    steps: tuple[Step, ...]
    step_fps: list[int]
    parameters: tuple[Parameter, ...]
    parameter_fps: list[int]
    artifacts: tuple[ArtifactRef, ...]
    artifact_fps: list[int]


_NOTHING_KNOWN = _Known((), [], (), [], (), [])


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


class _Batch:
    """The rows a batch writes, per statement, as the row type of its table (write_rows)."""

    def __init__(self, *, outbox: bool) -> None:
        self.outbox = outbox  # queue an OpenLineage event with every transition
        self.runs: list[RunRow] = []
        self.steps: list[StepRow] = []
        self.step_deletes: list[StepKey] = []
        self.edge_inserts: list[EdgeRow] = []
        self.edge_deletes: list[EdgeRow] = []
        self.params: list[ParameterRow] = []
        self.param_deletes: list[RefKey] = []
        self.artifacts: list[ArtifactRefRow] = []
        self.artifact_deletes: list[RefKey] = []
        self.transitions: list[TransitionRow] = []
        self.lineage_runs: list[str] = []  # runs whose parameter edges are inferred again

    def statements(self) -> list[tuple[str, str, list[Any], int]]:
        """(query name, SQL, arguments, rows of run state it writes) for every statement with work to do."""
        # Parents before children (foreign keys), deletes before upserts of the same table.
        # Artifact discovery and queueing are bookkeeping of the indexer, not run state: not counted.
        ordered: list[tuple[str, type[tuple], list[Any]]] = [
            ("upsert_runs", RunRow, self.runs),
            ("delete_steps", StepKey, self.step_deletes),
            ("upsert_steps", StepRow, self.steps),
            ("delete_edges", EdgeRow, self.edge_deletes),
            ("insert_edges", EdgeRow, self.edge_inserts),
            ("delete_parameters", RefKey, self.param_deletes),
            ("upsert_parameters", ParameterRow, self.params),
            ("delete_artifact_refs", RefKey, self.artifact_deletes),
            ("upsert_artifact_refs", ArtifactRefRow, self.artifacts),
            ("insert_transitions_and_outbox" if self.outbox else "insert_transitions", TransitionRow, self.transitions),
        ]
        found = [(name, statement(name, row), arrays(rows, row), len(rows)) for name, row, rows in ordered if rows]
        discovered = self._discovered()
        if discovered:
            at = [name for name, _, _, _ in found].index("upsert_artifact_refs")
            found.insert(at, ("discover_artifacts", statement("discover_artifacts", ArtifactRow),
                              arrays(discovered, ArtifactRow), 0))  # fmt: skip
            found.insert(at + 2, ("enqueue_artifacts", q("enqueue_artifacts"), self._to_index(), 0))
        if self.lineage_runs:
            # After every table it reads from is written; derived rows, not run state: not counted.
            found.append(("refresh_parameter_edges", q("refresh_parameter_edges"), [self.lineage_runs], 0))
        return found

    def stats_steps(self) -> set[tuple[str, str]]:
        """(run id, step id) of the steps whose figures the batch may change (store/rollups): those it writes
        or deletes, and the parents of the edges it writes or deletes (a Retry step's attempts)."""
        found = {(s.run_id, s.id) for s in self.steps}
        found.update((s.run_id, s.id) for s in self.step_deletes)
        found.update((e.run_id, e.parent_id) for e in itertools.chain(self.edge_inserts, self.edge_deletes))
        return found

    def _discovered(self) -> list[ArtifactRow]:
        found = []
        for a in self.artifacts:
            if a.uri is not None:
                found.append(ArtifactRow(
                    uri=a.uri, bucket=a.s3_bucket, key=a.s3_key, endpoint=a.s3_endpoint, region=a.s3_region,
                    insecure=a.s3_insecure, direction=a.direction,
                ))  # fmt: skip
        return found

    def _to_index(self) -> list[Any]:
        outputs: set[str] = set()
        inputs: set[str] = set()
        for a in self.artifacts:
            if a.uri is not None:
                (outputs if a.direction == "output" else inputs).add(a.uri)
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
    def __init__(self, *, cache_runs: int = 100_000, lineage_outbox: bool = False) -> None:
        self._cache: OrderedDict[str, Packed | Persisted] = OrderedDict()
        self._cache_runs = cache_runs
        self._known: OrderedDict[str, _Known] = OrderedDict()  # large running workflows only
        self._known_objects = 0
        # Off by default: no outbox rows, and ingest costs what it did without export.
        self._lineage_outbox = lineage_outbox

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
                batch = _Batch(outbox=self._lineage_outbox)
                updates: dict[str, Persisted] = {}
                for state in states:
                    before = unpack(self._cache.get(state.run.id))
                    if before is not None and _conflicts(state, before):
                        result.runs_conflicting += 1
                        continue
                    if before is not None and is_stale(state.run.resource_version, before.resource_version):
                        result.runs_stale += 1
                        continue
                    known = self._forget_known(state.run.id)
                    after = self._diff(state, before, batch, now, known=known)
                    _transitions(state, before, (seen or {}).get(state.run.id), batch, now)
                    if after is None:
                        result.runs_unchanged += 1
                    else:
                        updates[state.run.id] = after
                        result.runs_written += 1
                async with rollups_kept(conn, updates, steps=batch.stats_steps()):
                    for name, sql, args, rows in batch.statements():
                        written = affected(await conn.execute(sql, *args))
                        if name == "upsert_runs" and written != rows:
                            raise ConcurrentWrite(f"{rows - written} run(s) stored by another writer meanwhile")
                        result.rows += rows
                result.transitions = len(batch.transitions)
        except BaseException:
            self.forget(ids)
            raise
        for run_id, persisted in updates.items():
            self._cache[run_id] = pack(persisted)
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
        self._cache.update((run_id, pack(p)) for run_id, p in loaded.items())

    def _diff(
        self, state: RunState, before: Persisted | None, batch: _Batch, now: datetime, *,
        known: _Known = _NOTHING_KNOWN,
    ) -> Persisted | None:  # fmt: skip
        """Queue the rows that differ from `before`; returns the new fingerprints, or None if nothing changed."""
        run = state.run
        documents = _Documents.of(run)
        run_fp = _run_fingerprint(state, documents)
        after = Persisted(run_fp, run.phase, run.resource_version, state.deleted, sys.intern(run.namespace), run.name)
        old = before or Persisted(0, "", None, False, "", "")
        # Every step runs: each fills in its part of `after`.
        step_fps = _step_fingerprints(state.steps, known)
        parameter_fps = _parameter_fingerprints(state.parameters, known)
        artifact_fps = _artifact_fingerprints(state.artifacts, known)
        steps = _queue_steps(state, step_fps, old=old, after=after, batch=batch)
        edges = _queue_edges(state, old=old, after=after, batch=batch)
        parameters = _queue_parameters(state, parameter_fps, old=old, after=after, batch=batch)
        artifacts = _queue_artifacts(state, artifact_fps, old=old, after=after, batch=batch)
        self._remember(state, _Known(state.steps, step_fps, state.parameters, parameter_fps, state.artifacts,
                                     artifact_fps))  # fmt: skip
        # Parameter edges follow from the steps' times, the step edges and the parameters: inferred
        # again for the run when one of those changed and it has (or had) step parameters to link.
        if (steps or edges or parameters) and (_has_step_parameters(after) or _has_step_parameters(old)):
            batch.lineage_runs.append(run.id)
        changed = before is None or before.fp != run_fp or steps or edges or parameters or artifacts
        if not changed:
            return None
        batch.runs.append(_run_row(state, documents, fp=run_fp, now=now))
        return after


    def _remember(self, state: RunState, known: _Known) -> None:
        """Keep the fingerprints of a large running workflow's objects for its next state (see _Known)."""
        if len(state.steps) < KNOWN_MIN_STEPS or state.deleted or state.run.phase in TERMINAL_PHASES:
            return
        self._known[state.run.id] = known
        self._known_objects += _objects(known)
        while self._known_objects > KNOWN_OBJECTS:
            _, oldest = self._known.popitem(last=False)
            self._known_objects -= _objects(oldest)

    def _forget_known(self, run_id: str) -> _Known:
        known = self._known.pop(run_id, _NOTHING_KNOWN)
        self._known_objects -= _objects(known)
        return known


def _objects(known: _Known) -> int:
    return len(known.steps) + len(known.parameters) + len(known.artifacts)


def _step_fingerprints(steps: tuple[Step, ...], known: _Known) -> list[int]:
    return _reused(steps, known.steps, known.step_fps, _step_fingerprint)


def _parameter_fingerprints(parameters: tuple[Parameter, ...], known: _Known) -> list[int]:
    return _reused(parameters, known.parameters, known.parameter_fps, lambda p: fingerprint(p.value, p.truncated))


def _artifact_fingerprints(artifacts: tuple[ArtifactRef, ...], known: _Known) -> list[int]:
    return _reused(artifacts, known.artifacts, known.artifact_fps, lambda a: _artifact_fingerprint(a, a.uri))


def _reused(objs: tuple, was: tuple, fps: list[int], fingerprint_of: Callable[[Any], int]) -> list[int]:
    # An object that is the very one at its position last time (the node memo gave it again) keeps its fingerprint.
    n = len(was)
    return [fps[i] if i < n and was[i] is obj else fingerprint_of(obj) for i, obj in enumerate(objs)]


class _Documents(NamedTuple):
    """A run's jsonb columns serialised once, in a stable order (maps with sorted keys, the failed step in
    its model's field order): their text is what is fingerprinted and sent."""

    labels: str
    parameters: str
    step_counts: str
    resources_duration: str
    failed_step: str | None

    @classmethod
    def of(cls, run: Run, _dumps=orjson.dumps, _sorted=orjson.OPT_SORT_KEYS) -> _Documents:
        return cls(
            labels=_dumps(run.labels, option=_sorted).decode(),
            parameters=_dumps(run.parameters, option=_sorted).decode(),
            step_counts=_dumps(run.step_counts, option=_sorted).decode(),
            resources_duration=_dumps(run.resources_duration, option=_sorted).decode(),
            failed_step=None if run.failed_step is None else run.failed_step.model_dump_json(),
        )


def _run_fingerprint(state: RunState, documents: _Documents) -> int:
    run = state.run
    # The values and their order are those of the fingerprints already stored: another order would
    # rewrite every run once. resourceVersion is left out on purpose: a new version with the same
    # content is no change.
    fp = fingerprint(
        run.id, run.namespace, run.name, run.uid, run.kfp_run_id, run.pipeline_name, run.scheduled_workflow,
        run.phase, run.message, run.created_at, run.started_at, run.finished_at, documents.labels,
        documents.parameters, documents.step_counts, run.nodes_offloaded, state.deleted,
    )  # fmt: skip
    # Each only when set: runs stored before it was recorded keep matching their fingerprints, so
    # an upgrade does not rewrite every run.
    if run.shutdown is not None:
        fp = fingerprint(fp, run.shutdown)
    if documents.failed_step is not None:
        fp = fingerprint(fp, documents.failed_step)
    if run.resources_duration or run.progress is not None or run.estimated_duration is not None:
        fp = fingerprint(fp, documents.resources_duration, run.progress, run.estimated_duration)
    return fp


def _run_row(state: RunState, documents: _Documents, *, fp: int, now: datetime) -> RunRow:
    run = state.run
    return RunRow(
        id=run.id, namespace=run.namespace, name=run.name, uid=run.uid, kfp_run_id=run.kfp_run_id,
        pipeline_name=run.pipeline_name, scheduled_workflow=run.scheduled_workflow, phase=run.phase,
        message=run.message, created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        labels=documents.labels, parameters=documents.parameters, step_counts=documents.step_counts,
        nodes_offloaded=run.nodes_offloaded, deleted_at=(state.deletion_timestamp or now) if state.deleted else None,
        resource_version=run.resource_version, fp=fp, shutdown=run.shutdown, failed_step=documents.failed_step,
        resources_duration=documents.resources_duration, progress=run.progress,
        estimated_duration=run.estimated_duration,
    )  # fmt: skip


def _queue_steps(state: RunState, step_fps: list[int], *, old: Persisted, after: Persisted, batch: _Batch) -> bool:
    rid = state.run.id
    changed = False
    fps, phases, old_fps = after.steps, after.step_phases, old.steps
    for step, step_fp in zip(state.steps, step_fps, strict=True):
        fps[step.id] = step_fp
        phases[step.id] = step.phase
        if old_fps.get(step.id) == step_fp:
            continue
        changed = True
        batch.steps.append(StepRow(
            run_id=rid, id=step.id, name=step.name, display_name=step.display_name, type=step.type,
            template=step.template, phase=step.phase, boundary_id=step.boundary_id, pod_name=step.pod_name,
            started_at=step.started_at, finished_at=step.finished_at, exit_code=step.exit_code,
            message=step.message, host_node=step.host_node, fp=step_fp,
            resources_duration=orjson.dumps(step.resources_duration, option=orjson.OPT_SORT_KEYS).decode(),
        ))  # fmt: skip
    for step_id in old_fps.keys() - fps.keys():
        changed = True
        batch.step_deletes.append(StepKey(run_id=rid, id=step_id))
    return changed


def _queue_edges(state: RunState, *, old: Persisted, after: Persisted, batch: _Batch) -> bool:
    after.edges = state.edges
    # Usually the very same pairs in the same order; only a difference needs the sets.
    if state.edges == old.edges:
        return False
    rid = state.run.id
    new_edges, old_edges = set(state.edges), set(old.edges)
    inserts = [EdgeRow(run_id=rid, parent_id=p, child_id=c) for p, c in state.edges if (p, c) not in old_edges]
    deletes = [EdgeRow(run_id=rid, parent_id=p, child_id=c) for p, c in old.edges if (p, c) not in new_edges]
    batch.edge_inserts.extend(inserts)
    batch.edge_deletes.extend(deletes)
    return bool(inserts or deletes)


def _has_step_parameters(persisted: Persisted) -> bool:
    return any(direction != "argument" for _, direction, _ in persisted.parameters)


def _queue_parameters(
    state: RunState, parameter_fps: list[int], *, old: Persisted, after: Persisted, batch: _Batch
) -> bool:
    rid = state.run.id
    changed = False
    for p, p_fp in zip(state.parameters, parameter_fps, strict=True):
        key = (p.step_id, p.direction, p.name)
        after.parameters[key] = p_fp
        if old.parameters.get(key) != p_fp:
            changed = True
            batch.params.append(ParameterRow(
                run_id=rid, step_id=p.step_id, direction=p.direction, name=p.name, value=p.value,
                truncated=p.truncated, fp=p_fp,
            ))  # fmt: skip
    for step_id, direction, name in old.parameters.keys() - after.parameters.keys():
        changed = True
        batch.param_deletes.append(RefKey(run_id=rid, step_id=step_id, direction=direction, name=name))
    return changed


def _queue_artifacts(
    state: RunState, artifact_fps: list[int], *, old: Persisted, after: Persisted, batch: _Batch
) -> bool:
    rid = state.run.id
    changed = False
    for a, a_fp in zip(state.artifacts, artifact_fps, strict=True):
        key = (a.step_id, a.direction, a.name)
        after.artifacts[key] = a_fp
        if old.artifacts.get(key) != a_fp:
            changed = True
            uri = a.uri  # a property that builds its string: only for a reference written
            batch.artifacts.append(ArtifactRefRow(
                run_id=rid, step_id=a.step_id, direction=a.direction, name=a.name, path=a.path, storage=a.storage,
                s3_bucket=a.s3_bucket, s3_key=a.s3_key, s3_endpoint=a.s3_endpoint, s3_region=a.s3_region,
                s3_insecure=a.s3_insecure, location_source=a.location_source, archive=a.archive,
                optional=a.optional, uri=uri, fp=a_fp,
            ))  # fmt: skip
    for step_id, direction, name in old.artifacts.keys() - after.artifacts.keys():
        changed = True
        batch.artifact_deletes.append(RefKey(run_id=rid, step_id=step_id, direction=direction, name=name))
    return changed


def _transitions(state: RunState, before: Persisted | None, seen: Seen | None, batch: _Batch, now: datetime) -> None:
    """Queue a transition for every phase change from what `before` holds, through `seen.earlier`, to `state`.

    Each run's or step's in the order they were seen. With earlier phases among them, the chains are
    interleaved by time (each kept in its order), so the event feed tells a backlog as it happened.
    """
    rid = state.run.id
    chains: dict[str, list[TransitionRow]] = {}  # step id ('' the run) -> rows

    def enter(step_id: str, phase: str, at: datetime) -> None:
        chain = chains.get(step_id)
        if chain:
            previous = chain[-1].to_phase
        elif before is None:
            previous = None
        else:
            previous = before.phase if step_id == "" else before.step_phases.get(step_id)
        if phase and phase != previous:
            row = TransitionRow(run_id=rid, step_id=step_id, from_phase=previous, to_phase=phase, at=at)
            chains.setdefault(step_id, []).append(row)

    for change in seen.earlier if seen else ():
        if before is None or not _not_newer(change.resource_version, before.resource_version):
            enter(change.step_id, change.phase, change.at)
    interleave = bool(chains)
    fallback = seen.arrived_at if seen else now
    for step in state.steps:
        enter(step.id, step.phase, step_phase_at(step) or fallback)
    enter("", state.run.phase, run_phase_at(state) or fallback)
    rows = heapq.merge(*chains.values(), key=attrgetter("at")) if interleave else itertools.chain(*chains.values())
    batch.transitions.extend(rows)


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
    values = (
        step.name, step.display_name, step.type, step.template, step.phase, step.boundary_id, step.pod_name,
        step.started_at, step.finished_at, step.exit_code, step.message, step.host_node,
    )  # fmt: skip
    if step.resources_duration:  # only when set, as for runs (_run_fingerprint)
        values += (sorted(step.resources_duration.items()),)
    return _fingerprint(values)


def _artifact_fingerprint(a: ArtifactRef, uri: str | None) -> int:
    return _fingerprint((
        a.path, a.storage, a.s3_bucket, a.s3_key, a.s3_endpoint, a.s3_region, a.s3_insecure, a.location_source,
        a.archive, a.optional, uri,
    ))  # fmt: skip
