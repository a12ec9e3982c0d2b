"""The ingest path: watch events -> translation -> per-run coalescing -> group-committed writes.

``Ingestor.submit()`` is what every source (a replayed file, a live watch) calls. It translates the
object at once (so a bad object is reported against the event that carried it, and only the small
translated state waits in memory) and queues it under its run id. Writer tasks take batches of
runs from the queue and persist each batch in one transaction.

When the database fails transiently the batch goes back to the queue (behind a newer state of a
run that arrived meanwhile) and the writer backs off; because the queue keeps one state per run and
bounds the number of runs, an outage costs bounded memory and no final state is lost. It never
costs history: a state that replaces a waiting one carries the phases the replaced one recorded
(at most ingest_max_pending_phase_changes per run, the oldest dropped and counted past it), and the
writer stores them as transitions before its own. The steps held
by queued and in-flight states are bounded too (one run may hold a hundred thousand), and so is the memory
they take, estimated from their rows and parameter values: a reader faster than the database waits. A batch that fails for a data reason is split run by run, so one bad run is
reported and dropped alone.

A workflow whose nodes Argo offloaded to its database gets them back from ``NodeStatus`` (when Argo's
database is configured) before translation; one whose version is not visible yet waits there, off
the intake path, and comes back through ``_submit_workflow`` when found.

The ingestor is a lifecycle.Service: ``async with Ingestor(...)`` starts the writers; leaving it
cleanly gives queued states ``ingest_shutdown_grace_seconds`` to reach Postgres (``drained`` tells
whether all did), leaving it on an error cancels the writers at once (an open transaction rolls back).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple

import asyncpg

from runledger.agent.argo_database import NodeStatus, offloaded_version
from runledger.agent.pod_facts import translate_pod
from runledger.agent.queueing import CoalescingQueue
from runledger.agent.translate import (
    ARTIFACT_BYTES,
    EDGE_BYTES,
    PARAMETER_BYTES,
    RUN_BYTES,
    STEP_BYTES,
    NodeMemo,
    TranslationError,
    object_ref,
    run_id_for,
    translate_workflow,
)
from runledger.core.backoff import Backoff
from runledger.core.counters import LatencyHistogram
from runledger.core.lifecycle import Service, first
from runledger.core.run_state import TERMINAL_PHASES, PodObservation, RunState, WatchEvent
from runledger.core.phases import PhaseChange, Seen, replaced_phases
from runledger.core.artifact_locations import RepositoryRegistry
from runledger.core.settings import (
    ArgoSettings,
    ArtifactsSettings,
    IngestSettings,
    OpenLineageSettings,
)
from runledger.core.shards import Shard
from runledger.store import reconcile
from runledger.store.connection import is_transient
from runledger.store.pod_writer import write_pods
from runledger.store.rollups import lock_runs
from runledger.store.writer import RunWriter, is_stale, revision

QueueKey = str | tuple[str, str, str]  # a run id, or ("pod", run id, node id)


class Work(NamedTuple):
    seq: int  # submission sequence number
    item: RunState | PodObservation
    arrived_at: datetime
    earlier: tuple[PhaseChange, ...] = ()  # phases of the states `item` replaced in the queue, oldest first

log = logging.getLogger(__name__)

# A statement timeout on a single run's write means a slow or loaded server far more often than a run
# too large to store: the run waits (the writer backs off) and is tried again, so a burst never costs
# runs. Past this many timeouts in a row it is given up and counted, so one run that can never be
# written in time cannot hold back a replay's end forever.
WRITE_TIMEOUTS_PER_RUN = 8


@dataclass
class IngestStats:
    events: Counter = field(default_factory=Counter)  # by event type
    errors: Counter = field(default_factory=Counter)  # by kind
    warnings: Counter = field(default_factory=Counter)  # translation oddities, by kind
    runs_written: int = 0
    runs_unchanged: int = 0
    runs_stale: int = 0
    pods_written: int = 0  # pod observations that changed their step's row
    pods_skipped: int = 0  # pod observations that did not (nothing new, or older than the row)
    rows_written: int = 0
    transitions: int = 0
    phase_changes_dropped: int = 0  # past ingest_max_pending_phase_changes: missing from the timeline
    offloaded_runs: int = 0
    batches: int = 0
    write_seconds: LatencyHistogram = field(default_factory=LatencyHistogram)  # one per committed batch
    db_retries: int = 0
    runs_reconciled_deleted: int = 0
    other_shards: Counter = field(default_factory=Counter)  # events of namespaces another shard records, by resource
    # Filled only when asked (replays): a long-running agent must not grow with every run it saw.
    steps_by_run: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "events": sum(self.events.values()),
            "runs": len(self.steps_by_run),
            "steps": sum(self.steps_by_run.values()),
            "errors": sum(self.errors.values()),
            "runs_written": self.runs_written,
            "rows_written": self.rows_written,
            "transitions": self.transitions,
            "offloaded_runs": self.offloaded_runs,
        }


class Ingestor(Service):
    name = "ingestor"

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        ingest: IngestSettings,
        argo: ArgoSettings,
        artifacts: ArtifactsSettings,
        openlineage: OpenLineageSettings,
        writer: RunWriter | None = None,
        track_runs: bool = False,
        repositories: RepositoryRegistry | None = None,
        node_status: NodeStatus | None = None,
    ) -> None:
        super().__init__()
        self.grace = ingest.shutdown_grace_seconds
        self._track_runs = track_runs
        self._node_status = node_status
        self.repositories = repositories or RepositoryRegistry(
            default=artifacts.repository, named=artifacts.repositories
        )
        self._pool = pool
        self._ingest = ingest
        self._pod_name_format = argo.pod_name_format
        self._writer = writer or RunWriter(
            cache_runs=ingest.fingerprint_cache_runs, lineage_outbox=openlineage.export
        )
        self._queue: CoalescingQueue[QueueKey, Work] = CoalescingQueue(
            max_keys=ingest.max_pending_runs,
            kind=resource_of,
            refuse=lambda new, held: refusal(new.item, held.item),
            merge=self._keep_phases,
        )
        self._seq = 0
        self._writing: dict[QueueKey, int] = {}  # in-progress keys -> sequence number being written
        # Shared by the batches bulk sources take: each is written by a task of its own.
        self._taken_backoff = Backoff(0.1, ingest.retry_max_seconds)
        self._timeouts: Counter[QueueKey] = Counter()  # statement timeouts in a row, per key
        self._queued: dict[QueueKey, Weight] = {}  # weight of the queued state of each key
        self._held = Weight(0, 0)  # weight of every state queued or being written
        self._room = asyncio.Condition()
        # Per running workflow, by run id, what its last object's nodes translated to (NodeMemo).
        self._memos: dict[str, NodeMemo] = {}
        self._memo_bytes = 0  # estimated, of all memos, against ingest.node_memo_bytes
        self.stats = IngestStats()
        self.database_ok = True
        self.drained = False  # whether the last stop wrote every queued state
        if node_status is not None:
            node_status.bind_errors(self.stats.errors)

    @property
    def queue(self) -> CoalescingQueue[QueueKey, Work]:
        return self._queue

    # --- progress (for watch checkpoints) ---------------------------------------------------------

    def submitted(self) -> int:
        """Sequence number of the newest submitted state."""
        return self._seq

    def persisted_below(self) -> int:
        """Every state submitted with a sequence number below this one is persisted (or superseded)."""
        waiting = [work.seq for work in self._queue.pending_items()]
        waiting += self._writing.values()
        if self._node_status is not None and (oldest := self._node_status.oldest_waiting()) is not None:
            waiting.append(oldest)
        return min(waiting, default=self._seq + 1)

    async def _put(self, key: QueueKey, item: RunState | PodObservation) -> None:
        steps, size = _steps(item), _bytes(item)
        async with self._room:
            await self._room.wait_for(lambda: self._fits(Weight(steps, size)))
        rv = _version(item)
        if rv and revision(rv) is None and rv.isascii() and rv.isdigit():
            # Digits, yet no etcd revision (those are int64): kept as text, ordering nothing.
            self.stats.warnings["resource_version"] += 1
            log.info("%s: a resourceVersion of %d digits is no etcd revision; arrival order decides",
                     _describe(item), len(rv))  # fmt: skip
        self._seq += 1
        refused = await self._queue.put(key, Work(self._seq, item, datetime.now(timezone.utc)))
        if refused is None:
            self._hold(key, _weight(self._queue.pending(key), item_weight=Weight(steps, size)))
            return
        kind, _, detail = refused.partition(": ")
        if kind == "stale":
            self.stats.runs_stale += isinstance(item, RunState)
            self.stats.pods_skipped += isinstance(item, PodObservation)
        else:
            self.stats.errors[kind] += 1
            log.warning("refused %s: %s", _describe(item), detail)

    def _fits(self, weight: Weight) -> bool:
        """Whether `weight` more may be held. With nothing held, a run larger than the bounds still goes, alone."""
        max_steps, max_bytes = self._ingest.max_pending_steps, self._ingest.max_pending_bytes
        return self._held.steps == 0 or (
            self._held.steps + weight.steps <= max_steps and self._held.bytes + weight.bytes <= max_bytes
        )

    def _hold(self, key: QueueKey, weight: Weight) -> None:
        """Count the weight of the state just queued for `key`, which replaced any older queued one."""
        before = self._queued.get(key, Weight(0, 0))
        self._held = Weight(self._held.steps + weight.steps - before.steps,
                            self._held.bytes + weight.bytes - before.bytes)  # fmt: skip
        self._queued[key] = weight

    def _keep_phases(self, work: Work, replaced: Work) -> Work:
        """`work` replacing `replaced` in the queue, with the phases `replaced` recorded that `work` does not."""
        if not isinstance(work.item, RunState) or not isinstance(replaced.item, RunState):
            return work
        lost = replaced_phases(replaced.item, work.item, arrived_at=replaced.arrived_at)
        if not lost and not replaced.earlier:
            return work
        earlier = (*replaced.earlier, *lost, *work.earlier)
        cap = self._ingest.max_pending_phase_changes
        if len(earlier) > cap:
            # The oldest go: the newest phases are the ones a live timeline is waiting for.
            self.stats.phase_changes_dropped += len(earlier) - cap
            earlier = earlier[len(earlier) - cap :]
        return work._replace(earlier=earlier)

    # --- intake ----------------------------------------------------------------------------

    async def submit(self, event: WatchEvent) -> None:
        """Translate one watch event and queue its state; bad objects are logged and counted."""
        self.stats.events[event.type] += 1
        if event.type in ("BOOKMARK", "ERROR"):
            return
        obj = event.object
        if self._node_status is not None:
            # The event takes a place in the sequence: while it waits for its nodes, watch checkpoints stop before it.
            self._seq += 1
            obj = await self._node_status.hydrate(event, seq=self._seq)
            if obj is None:
                return
        # Nodes read from Argo's database were not in the event's text: what the source found there says nothing of them.
        await self._submit_workflow(obj, event.type, nul_free=event.nul_free and obj is event.object)

    async def _submit_workflow(self, obj: Any, kind: str, *, nul_free: bool = False) -> None:
        """Translate a workflow object carried by an event of type `kind` and queue its state."""
        state = self.translate(obj, kind=kind, nul_free=nul_free)
        if state is not None:
            await self._put(state.run.id, state)

    def translate_event(self, event: WatchEvent) -> RunState | None:
        """The state a workflow event carries, counted as submit() counts it (for sources that write in bulk)."""
        self.stats.events[event.type] += 1
        return self.translate(event.object, kind=event.type, nul_free=event.nul_free)

    def translate(self, obj: Any, *, kind: str, nul_free: bool = False) -> RunState | None:
        """The state a workflow object carried by an event of type `kind` holds; None (logged and counted) when bad."""
        try:
            memo = self._take_memo(obj, kind)
            state = translate_workflow(
                obj,
                deleted=kind == "DELETED",
                default_pod_name_format=self._pod_name_format,
                max_value_bytes=self._ingest.max_value_bytes,
                repositories=self.repositories,
                memo=memo,
                nul_free=nul_free,
            )
        except TranslationError as exc:
            self.stats.errors["invalid_object"] += 1
            log.warning("skipped %s event: %s", kind, exc)
            return None
        except Exception:  # a translation bug must not stop the stream; it is loud in the log
            self.stats.errors["translation_bug"] += 1
            log.exception("could not translate %s event for %s", kind, object_ref(obj))
            return None
        if memo is not None:
            self._keep_memo(state.run.id, memo)
        for warning in state.warnings:
            self.stats.warnings[warning.split(":", 1)[0]] += 1
            log.info("%s/%s: %s", state.run.namespace, state.run.name, warning)
        if state.run.nodes_offloaded:
            self.stats.offloaded_runs += 1
        if self._track_runs:
            self.stats.steps_by_run[state.run.id] = len(state.steps)
        return state

    def waits_for_nodes(self, obj: Any) -> bool:
        """Whether the workflow's nodes are to be read from Argo's offload table first (submit() does)."""
        return self._node_status is not None and offloaded_version(obj) is not None

    async def take(self, states: list[RunState]) -> list[tuple[QueueKey, Work]]:
        """The batch of `states` (from translate_event) the caller writes itself (write_taken), for bulk sources.

        A run the queue already holds, or several states of one run, are queued instead, in order, so
        that one run's states are still written one at a time and coalesced. The others are claimed in
        the queue, as a writer's batch is, once what is held leaves room for them (as _put waits),
        and counted in submitted(): the caller must write them.
        """
        runs = Counter(state.run.id for state in states)
        now = datetime.now(timezone.utc)
        free = [state for state in states if runs[state.run.id] == 1]
        for state in states:
            if runs[state.run.id] > 1:
                await self._put(state.run.id, state)
        while True:
            busy = [state for state in free if self._queue.holds(state.run.id)]
            free = [state for state in free if not self._queue.holds(state.run.id)]
            for state in busy:
                await self._put(state.run.id, state)
            weight = _batch_weight([(state.run.id, Work(0, state, now)) for state in free])
            async with self._room:
                await self._room.wait_for(lambda: self._fits(weight))
                # Nothing awaited since the wait: claimed now, or looked at again if a run was queued meanwhile.
                batch = [(state.run.id, Work(self._seq + i, state, now)) for i, state in enumerate(free, 1)]
                if self._queue.claim(batch):
                    break
        self._seq += len(batch)
        self._held = Weight(self._held.steps + weight.steps, self._held.bytes + weight.bytes)
        for key, work in batch:
            self._writing[key] = work.seq
        # In run id order, as the writers' locks are taken: two batches never wait on each other in a cycle.
        return sorted(batch, key=lambda item: item[0])

    async def write_taken(self, batch: list[tuple[QueueKey, Work]]) -> None:
        """Persist a batch from take() as a queue writer persists its own (_write_batch), without
        waiting in the queue for one; backs off after a failure, so a source faster than an ailing
        database is held back (take() waits while the requeued states fill what may be held)."""
        if batch:
            await self._write_batch(batch, backoff=self._taken_backoff)

    def _take_memo(self, obj: Any, kind: str) -> NodeMemo | None:
        """The memo of a running workflow's run, out of the account until kept again; a new one if there
        is room. None for a finished or deleted workflow: its memo is dropped, as no later event needs it."""
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict):
            return None
        run_id = run_id_for(meta)
        memo = self._memos.pop(run_id, None)
        if memo is not None:
            self._memo_bytes -= memo.size
        status = obj.get("status")
        phase = status.get("phase") if isinstance(status, dict) else None
        if kind == "DELETED" or (isinstance(phase, str) and phase in TERMINAL_PHASES):
            return None
        nodes = status.get("nodes") if isinstance(status, dict) else None
        if not isinstance(nodes, dict) or len(nodes) < MEMO_MIN_NODES:
            return None
        if memo is None and self._memo_bytes < self._ingest.node_memo_bytes:
            memo = NodeMemo()
        return memo

    def _keep_memo(self, run_id: str, memo: NodeMemo) -> None:
        """Keep a memo while it fits: one that does not is dropped, not another.

        A workflow that comes later waits for room rather than evicting one whose next event may be
        the next one read: a watch of more workflows than fit goes round them all, and evicting the
        least recently used would leave none kept at the right time.
        """
        if self._memo_bytes + memo.size <= self._ingest.node_memo_bytes:
            self._memos[run_id] = memo
            self._memo_bytes += memo.size

    def memoized(self) -> tuple[int, int]:
        """Runs whose translated nodes are kept, and the bytes they are estimated to take."""
        return len(self._memos), self._memo_bytes

    def _forget_memos(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            memo = self._memos.pop(run_id, None)
            if memo is not None:
                self._memo_bytes -= memo.size

    async def submit_pod(self, event: WatchEvent) -> None:
        """Translate a Pod event and queue what it adds to its step."""
        self.stats.events[f"pod:{event.type}"] += 1
        if event.type in ("BOOKMARK", "ERROR"):
            return
        try:
            pod = translate_pod(event.object, deleted=event.type == "DELETED", nul_free=event.nul_free)
        except TranslationError as exc:
            self.stats.errors["invalid_pod"] += 1
            log.info("skipped pod %s event: %s", event.type, exc)
            return
        except Exception:
            self.stats.errors["translation_bug"] += 1
            log.exception("could not translate pod %s", object_ref(event.object))
            return
        for warning in pod.warnings:
            self.stats.warnings[warning.split(":", 1)[0]] += 1
            log.info("pod %s/%s: %s", pod.namespace, pod.pod_name, warning)
        await self._put(("pod", pod.run_id, pod.node_id), pod)

    async def database_now(self):
        async with self._pool.acquire() as conn:
            return await reconcile.database_now(conn)

    async def reconcile(
        self,
        *,
        listed_run_ids: list[str],
        list_started_at,
        namespaces: list[str] | None,
        labels: dict | None,
        shard: Shard | None = None,
    ) -> int:
        """After a full list: runs in scope that the list no longer holds are marked deleted."""
        await self.drain()
        async with self._pool.acquire() as conn:
            gone = await reconcile.mark_unlisted_runs_deleted(
                conn, listed_run_ids=listed_run_ids, since=list_started_at, namespaces=namespaces, labels=labels,
                shard=shard,
            )
        self._writer.forget(gone)
        self._forget_memos(gone)
        self.stats.runs_reconciled_deleted += len(gone)
        if gone:
            log.info("reconcile: %d run(s) gone from the cluster marked deleted", len(gone))
        return len(gone)

    # --- writers ---------------------------------------------------------------------------

    async def _start(self) -> None:
        self.drained = False
        for i in range(self._ingest.workers):
            self.spawn(self._write_loop(), name=f"ingest-writer-{i}")
        if self._node_status is not None:
            self.spawn(self._node_status.run(self._submit_workflow), name="offloaded-node-status")

    async def _finish(self) -> None:
        await self.drain()
        self.drained = True

    def _unfinished(self) -> str:
        return f"{self.unwritten()} run state(s) not written"

    async def drain(self) -> None:
        """Wait until every queued state is persisted; raises at once if a writer died."""
        if self._queue.idle():
            return  # at once: a grace of a millisecond must not run out on the waiting itself
        await first(idle=self._queue.wait_idle(), parts=self._watched())

    async def drain_all(self) -> None:
        """Also wait for the workflows waiting for their offloaded nodes (found, or given up), then drain.

        For finite sources (imports): a live watch must not stall on one slow version.
        """
        if self._node_status is not None:
            await first(settled=self._node_status.settled(), parts=self._watched())
        await self.drain()

    def _watched(self) -> list[Service]:
        return [self] if self._tasks else []

    def unwritten(self) -> int:
        """States queued or being written (a run may have one of each)."""
        return len(self._queue) + len(self._writing)

    async def _write_loop(self) -> None:
        backoff = Backoff(0.1, self._ingest.retry_max_seconds)
        while True:
            batch = await self._queue.get_batch(self._ingest.batch_runs)
            for key, _ in batch:
                self._queued.pop(key, None)  # still held, while written
            await self._write_batch(batch, backoff=backoff)

    async def _write_batch(self, batch: list[tuple[QueueKey, Work]], *, backoff: Backoff) -> None:
        """Persist a batch claimed in the queue (get_batch, take), in transactions of ingest.batch_runs
        runs, then release its keys and what it held. What a transient failure left unwritten went
        back to the queue (behind any newer state of its runs) and the caller backs off."""
        size = self._ingest.batch_runs
        outcome: Literal["written", "away", "slow"] = "written"
        for key, work in batch:
            self._writing[key] = work.seq
        try:
            for start in range(0, len(batch), size):
                written = await self._write(batch[start : start + size])
                outcome = max(outcome, written, key=_OUTCOMES.index)
                if written == "away":
                    # No await before the keys are released below: the queue hands them out only after done().
                    for key, work in batch[start + size :]:
                        self._requeue(key, work)
                    break
        finally:
            for key, _ in batch:
                self._writing.pop(key, None)
            held = _batch_weight(batch)
            self._held = Weight(self._held.steps - held.steps, self._held.bytes - held.bytes)
            await self._queue.done([key for key, _ in batch])
            async with self._room:
                self._room.notify_all()
        if outcome == "written":
            backoff.reset()
            self.database_ok = True
            return
        # A statement timeout is a slow database, not an absent one: /readyz stays 200.
        self.database_ok = outcome == "slow"
        self.stats.db_retries += 1
        await asyncio.sleep(backoff.next())

    async def _write(self, batch: list[tuple[QueueKey, Work]]) -> Literal["written", "away", "slow"]:
        """Persist a batch; unless "written", states were requeued: the database is away or slow."""
        items = [work for _, work in batch]
        try:
            await self._commit(items)
            for key in self._timeouts.keys() & {key for key, _ in batch}:
                del self._timeouts[key]
            return "written"
        except Exception as exc:
            if is_transient(exc):
                log.warning("database unavailable (%s); %d state(s) requeued", exc, len(items))
                for key, work in batch:
                    self._requeue(key, work)
                return "away"
            log.warning("batch of %d state(s) failed (%s); retrying one by one", len(items), exc)
        requeued = False
        for i, (key, work) in enumerate(batch):
            try:
                await self._commit([work])
                self._timeouts.pop(key, None)
            except Exception as exc:
                if is_transient(exc):
                    for behind_key, behind in batch[i:]:  # this run and every one behind it
                        self._requeue(behind_key, behind)
                    return "away"
                if isinstance(exc, asyncpg.QueryCanceledError) and self._timeouts[key] < WRITE_TIMEOUTS_PER_RUN:
                    self._timeouts[key] += 1
                    log.warning("storing %s timed out (%d of %d tries); it waits and is retried",
                                _describe(work.item), self._timeouts[key], WRITE_TIMEOUTS_PER_RUN)  # fmt: skip
                    self._requeue(key, work)
                    requeued = True
                    continue
                self._timeouts.pop(key, None)
                self.stats.errors["write_failed"] += 1
                log.error("could not store %s: %s", _describe(work.item), exc)
        return "slow" if requeued else "written"

    def _requeue(self, key: QueueKey, work: Work) -> None:
        self._queue.put_back(key, work)
        self._hold(key, _weight(self._queue.pending(key)))

    async def _commit(self, work: list[Work]) -> None:
        runs = [w.item for w in work if isinstance(w.item, RunState)]
        pods = [w.item for w in work if isinstance(w.item, PodObservation)]
        seen = {w.item.run.id: Seen(w.arrived_at, w.earlier) for w in work if isinstance(w.item, RunState)}
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn:
                async with conn.transaction():
                    await lock_runs(conn, [p.run_id for p in pods] + list(seen))
                    pod_rows, pods_refused = await write_pods(conn, pods)
                    result = await self._writer.write(conn, runs, seen=seen)
        except BaseException:
            # The writer's fingerprints describe its (inner) transaction; the outer one decides.
            self._writer.forget([state.run.id for state in runs])
            raise
        self.stats.batches += 1
        self.stats.write_seconds.observe(time.perf_counter() - started)
        self.stats.rows_written += pod_rows
        self.stats.pods_written += pod_rows
        self.stats.pods_skipped += len(pods) - pod_rows - pods_refused
        self.stats.runs_written += result.runs_written
        self.stats.runs_unchanged += result.runs_unchanged
        self.stats.runs_stale += result.runs_stale
        if result.runs_conflicting + pods_refused:
            self.stats.errors["uid_conflict"] += result.runs_conflicting + pods_refused
        self.stats.rows_written += result.rows
        self.stats.transitions += result.transitions


def refusal(new: RunState | PodObservation, held: RunState | PodObservation) -> str | None:
    """Why `new` must not replace `held`, a state queued under the same key ("kind: detail"), or None."""
    if _owner(new) != _owner(held):
        uid = new.run.uid if isinstance(new, RunState) else new.run_id
        return f"uid_conflict: uid {uid} belongs to {_owner(held)}, not {_owner(new)}"
    if is_stale(_version(new), _version(held)):
        return f"stale: resourceVersion {_version(new)} is older than {_version(held)}"
    return None


def _owner(item: RunState | PodObservation) -> str:
    if isinstance(item, RunState):
        return f"{item.run.namespace}/{item.run.name}"
    return f"{item.namespace}/{item.workflow_name}"


def _version(item: RunState | PodObservation) -> str | None:
    return item.run.resource_version if isinstance(item, RunState) else item.resource_version


def resource_of(key: QueueKey) -> str:
    """The resource a queued state came from: "workflow" or "pod" (a metric label)."""
    return "pod" if isinstance(key, tuple) else "workflow"


def _steps(item: RunState | PodObservation) -> int:
    """The weight of a state against ingest_max_pending_steps (a run counts as one more)."""
    return len(item.steps) + 1 if isinstance(item, RunState) else 1


_OUTCOMES = ("written", "slow", "away")  # of a batch's writes, the worst wins

# A memo saves some 3 µs of translation per unchanged node and costs some 1.5 KB per node. Of a small
# workflow's ~400 µs per event it saves under a tenth, while 10,000 of them would hold ~90 MB: only a
# workflow this large, whose one changed node is a small part of a costly translation, keeps one.
MEMO_MIN_NODES = 50

# Measured as translate's row sizes are.
_POD_BYTES, _PHASE_CHANGE_BYTES = 2_000, 250


class Weight(NamedTuple):
    """What queued work holds, against ingest_max_pending_steps and ingest_max_pending_bytes."""

    steps: int
    bytes: int


def _bytes(item: RunState | PodObservation) -> int:
    """The memory a state holds, estimated: rows by their measured size, plus the text of parameter values."""
    if not isinstance(item, RunState):
        return _POD_BYTES
    values = sum(len(p.value) for p in item.parameters if p.value)
    return (RUN_BYTES + STEP_BYTES * len(item.steps) + PARAMETER_BYTES * len(item.parameters)
            + ARTIFACT_BYTES * len(item.artifacts) + EDGE_BYTES * len(item.edges) + values)  # fmt: skip


def _weight(work: Work, *, item_weight: Weight | None = None) -> Weight:
    """The weight of queued work (`item_weight`, that of its item, when known): a kept phase change counts as a step."""
    steps, size = item_weight or (_steps(work.item), _bytes(work.item))
    earlier = len(work.earlier)
    return Weight(steps + earlier, size + _PHASE_CHANGE_BYTES * earlier)


def _batch_weight(batch: list[tuple[QueueKey, Work]]) -> Weight:
    weights = [_weight(work) for _, work in batch]
    return Weight(sum(w.steps for w in weights), sum(w.bytes for w in weights))


def _describe(item: RunState | PodObservation) -> str:
    if isinstance(item, RunState):
        return f"run {item.run.namespace}/{item.run.name}"
    return f"pod {item.namespace}/{item.pod_name}"
