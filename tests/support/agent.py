"""Running the real cluster agent in-process against the Kubernetes API double."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from kubernetes_asyncio import client

from runledger import service
from runledger.agent.repository_configmaps import ClusterRepositories
from runledger.agent.cluster_watch import ClusterAgent, build_streams
from runledger.agent.ingest import Ingestor
from runledger.core.settings import Settings
from runledger.service import build_ingestor
from runledger.store.checkpoints import PgCheckpointStore
from tests.support.kube_double import KubeDouble


def agent_settings(settings: Settings, **groups: dict) -> Settings:
    """Fast clocks for tests: checkpoints, backoff and timeouts measured in tenths of seconds; `groups` as
    Settings.updated takes them."""
    fast = dict(
        watch_page_size=100,
        watch_timeout_seconds=30,
        watch_inactivity_seconds=30,
        watch_backoff_max_seconds=0.2,
        watch_checkpoint_seconds=0.05,
    )
    return settings.updated(**{**groups, "cluster": fast | groups.get("cluster", {})})


@dataclass
class RunningAgent:
    agent: ClusterAgent
    ingestor: Ingestor


@contextlib.asynccontextmanager
async def running_agent(
    pool: asyncpg.Pool, double: KubeDouble, settings: Settings, *, cluster_repositories: bool = False
) -> AsyncIterator[RunningAgent]:
    """The agent against the double; with `cluster_repositories`, reading artifact repositories from
    the double's ConfigMaps as `runledger run` does."""
    async with contextlib.AsyncExitStack() as stack:
        api = client.ApiClient(double.client_configuration())
        stack.push_async_callback(api.close)
        ingestor = build_ingestor(pool=pool, settings=settings)
        repositories = (
            ClusterRepositories(api=api, registry=ingestor.repositories, artifacts=settings.artifacts)
            if cluster_repositories else None
        )  # fmt: skip
        if repositories is not None:
            await stack.enter_async_context(repositories)
        agent = ClusterAgent(build_streams(
            api=api, ingestor=ingestor, cluster=settings.cluster, checkpoints=PgCheckpointStore(pool), repositories=repositories,
        ))  # fmt: skip
        stack.push_async_callback(service.save_final_checkpoints, agent=agent, ingestor=ingestor)
        await stack.enter_async_context(ingestor)
        await stack.enter_async_context(agent)
        yield RunningAgent(agent, ingestor)


async def settled(running: RunningAgent, double: KubeDouble | None = None) -> None:
    """Wait until every stream listed, everything received is persisted and (given the double)
    every stream has its watch open."""
    for stream in running.agent.streams:
        await asyncio.wait_for(stream.state.synced.wait(), 10)
    await asyncio.wait_for(running.ingestor.drain(), 10)
    if double is not None:
        await double.wait_for_watchers("workflows", 1, timeout=10)
