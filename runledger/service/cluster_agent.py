"""The cluster agent of `runledger run`: watch the cluster and write what it sees while this replica
leads (always, without leader election), and answer the probes about it.

What outlives a change of leader (the API client, the repositories read from the cluster, the
elector) is entered once on the agent's ``AsyncExitStack``; each term enters its own parts (the
ingestor, the indexer, the OpenLineage sender, the watch streams) on a stack of its own, so losing
the lease stops them all, in reverse order, and the next term starts afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from runledger.agent import cluster_watch
from runledger.agent.argo_database import NodeStatus
from runledger.agent.repository_configmaps import ClusterRepositories
from runledger.agent.exposition import ingest_metrics, watch_metrics
from runledger.agent.ingest import Ingestor
from runledger.agent.leader import LeaderElector, LeaseSettings
from runledger.api import prometheus
from runledger.api.app_keys import LIVENESS_CHECKS, READINESS_CHECKS
from runledger.core.kube_client import client
from runledger.core.lifecycle import Service, first
from runledger.core.artifact_locations import RepositoryRegistry
from runledger.core.settings import ClusterSettings, Settings
from runledger.core.shards import Shard
from runledger.service.parts import (
    argo_node_status,
    build_ingestor,
    enter_indexer,
    enter_lineage_sender,
    part_reports,
    reporting,
)
from runledger.service.stopping import StopSignal
from runledger.store.checkpoints import PgCheckpointStore

log = logging.getLogger(__name__)




class LeadershipLost(Exception):
    """The lease was not renewed in time: this replica's term is over."""


@dataclass(frozen=True)
class Term:
    """What runs while this replica leads."""

    ingestor: Ingestor
    agent: cluster_watch.ClusterAgent


class Probes:
    """/readyz and /healthz of the cluster agent: about whichever term leads now (none while standing by)."""

    def __init__(self, *, cluster: ClusterSettings, elector: LeaderElector | None) -> None:
        self.term: Term | None = None
        self._elector = elector
        self._stale_after = cluster.watch_inactivity_seconds + 2 * cluster.watch_backoff_max_seconds + 60

    def install(self, app: web.Application) -> None:
        app[READINESS_CHECKS]["source"] = self.ready
        app[LIVENESS_CHECKS]["streams"] = self.alive
        if self._elector is not None:
            app[prometheus.TELEMETRY].leader = self._elector.leading

    @contextlib.contextmanager
    def leading(self, term: Term) -> Iterator[None]:
        self.term = term
        try:
            yield
        finally:
            self.term = None

    async def ready(self) -> tuple[bool, str]:
        if self._elector is not None and not self._elector.is_leader:
            return True, "standby: another replica leads"
        if self.term is None or not self.term.agent.synced():
            return False, "initial list in progress"
        if not self.term.ingestor.database_ok:
            return False, "database unreachable"
        return True, "synced"

    async def alive(self) -> tuple[bool, str]:
        if self.term is None:
            return True, "not watching"
        streams, now = self.term.agent.streams, time.monotonic()
        stale = [s.name for s in streams if now - s.state.last_contact > self._stale_after]
        return not stale, f"no contact: {', '.join(stale)}" if stale else f"{len(streams)} stream(s) live"


@dataclass(frozen=True)
class ClusterSession:
    """What outlives a change of leader: the API client, the repositories read from the cluster."""

    api: client.ApiClient
    # One registry for the process: what was read from the cluster survives a change of leader.
    registry: RepositoryRegistry
    repositories: ClusterRepositories
    checkpoints: PgCheckpointStore
    node_status: NodeStatus | None


async def run_cluster_agent(
    settings: Settings, *, pool: asyncpg.Pool, app: web.Application, stop: StopSignal, parts: Sequence[Service] = ()
) -> int:
    """Watch the cluster while leading (always, without leader election) until stopped; `parts` run
    beside (the API server): one that fails stops the agent.

    Losing the lease cancels the writers at once (an open transaction rolls back) and drops what was
    queued: the next leader lists or resumes from the last checkpoint, and ingest is idempotent.
    """
    async with contextlib.AsyncExitStack() as stack:
        session = await enter_cluster(stack, settings, pool=pool)
        elector = await enter_elector(stack, settings, api=session.api)
        probes = Probes(cluster=settings.cluster, elector=elector)
        probes.install(app)
        parts = [*parts, *([elector] if elector is not None else [])]
        while await wait_to_lead(elector, stop=stop, parts=parts):
            try:
                await lead(settings, pool=pool, app=app, session=session, probes=probes, stop=stop,
                           lost=elector.lost if elector is not None else None, parts=parts)  # fmt: skip
                return 0
            except LeadershipLost:
                log.warning("leadership lost: stopped watching and writing")
    return 0


async def enter_cluster(
    stack: contextlib.AsyncExitStack, settings: Settings, *, pool: asyncpg.Pool
) -> ClusterSession:
    """Connect to the API server; `stack` closes what was opened."""
    api = await cluster_watch.connect(settings.cluster)
    stack.push_async_callback(api.close)
    registry = RepositoryRegistry(default=settings.artifacts.repository, named=settings.artifacts.repositories)
    repositories = await stack.enter_async_context(
        ClusterRepositories(api=api, registry=registry, artifacts=settings.artifacts)
    )
    node_status = await stack.enter_async_context(argo_node_status(settings.argo))
    return ClusterSession(api=api, registry=registry, repositories=repositories, checkpoints=PgCheckpointStore(pool),
                          node_status=node_status)  # fmt: skip


async def enter_elector(
    stack: contextlib.AsyncExitStack, settings: Settings, *, api: client.ApiClient
) -> LeaderElector | None:
    """The leader elector, campaigning on `stack` (which releases the lease); None without election."""
    if not settings.leader.election:
        return None
    lease = LeaseSettings(
        name=shard_lease_name(settings.leader.lease_name, settings.cluster.shard_spec),
        namespace=settings.leader.lease_namespace,
        identity=settings.leader.identity or f"{socket.gethostname()}-{os.getpid()}",
        lease_seconds=settings.leader.lease_seconds,
        renew_deadline=settings.leader.renew_deadline_seconds,
        retry_period=settings.leader.retry_seconds,
    )
    return await stack.enter_async_context(LeaderElector(api=api, settings=lease))


def shard_lease_name(name: str, shard: Shard | None) -> str:
    """Shards elect apart: each has its own leader, and a resized set (a new count) new Leases, so an
    agent of the old set never stands by behind one of the new."""
    return f"{name}-{shard.index}-of-{shard.count}" if shard else name


async def wait_to_lead(elector: LeaderElector | None, *, stop: StopSignal, parts: list[Service]) -> bool:
    """True once this replica leads (at once without leader election); False if stopped first."""
    if elector is None:
        return not stop.event.is_set()
    return await first(parts=parts, stop=stop.event.wait(), leading=elector.acquired.wait()) == "leading"


async def lead(
    settings: Settings,
    *,
    pool: asyncpg.Pool,
    app: web.Application,
    session: ClusterSession,
    probes: Probes,
    stop: StopSignal,
    lost: asyncio.Event | None,
    parts: list[Service],
) -> None:
    """One term: watch and write until stopped (then drain, checkpoint, return); raises LeadershipLost
    when the lease is lost, or why a part died."""
    await session.repositories.load_controller_default()
    for namespace in settings.cluster.namespaces:
        session.repositories.seen_namespace(namespace)
    ingestor = build_ingestor(settings=settings, pool=pool, repositories=session.registry,
                              node_status=session.node_status)  # fmt: skip
    streams = cluster_watch.build_streams(api=session.api, ingestor=ingestor, cluster=settings.cluster,
                                    checkpoints=session.checkpoints, repositories=session.repositories)  # fmt: skip
    agent = cluster_watch.ClusterAgent(streams)
    async with contextlib.AsyncExitStack() as term:
        # Runs last: once the writers stopped, with everything received written (or not).
        term.push_async_callback(save_final_checkpoints, agent=agent, ingestor=ingestor)
        await term.enter_async_context(ingestor)
        indexers = await enter_indexer(term, settings, pool=pool)
        # Only the leader sends (and a round holds an advisory lock besides: never two senders at once).
        senders = await enter_lineage_sender(term, settings.openlineage, pool=pool)
        await term.enter_async_context(agent)
        term.enter_context(reporting(app, ingest=functools.partial(ingest_metrics, ingestor),
                                     watch=functools.partial(watch_metrics, agent.streams),
                                     **part_reports(indexers=indexers, senders=senders)))  # fmt: skip
        term.enter_context(probes.leading(Term(ingestor=ingestor, agent=agent)))
        waits = {"stop": stop.event.wait()} | ({"lost": lost.wait()} if lost is not None else {})
        if await first(parts=[ingestor, agent, *indexers, *senders, *parts], **waits) == "lost":
            raise LeadershipLost


async def save_final_checkpoints(*, agent: cluster_watch.ClusterAgent, ingestor: Ingestor) -> None:
    """After a graceful stop that wrote everything: resume from the newest event received."""
    if ingestor.drained:
        await agent.save_final_checkpoints()
