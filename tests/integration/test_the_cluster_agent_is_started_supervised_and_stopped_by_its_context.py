"""`async with ClusterAgent(...)`: entering runs a task per watch stream, leaving ends them all, and a
stream that dies fails the agent at once, so its owner stops instead of watching half-blind."""

from __future__ import annotations

import asyncio
import functools

import pytest
from kubernetes_asyncio import client

from runledger.agent.cluster_watch import (
    ARGO_GROUP,
    ARGO_VERSION,
    WORKFLOWS,
    ClusterAgent,
    build_streams,
    watch_settings,
)
from runledger.agent.watching import WatchStream
from runledger.core.lifecycle import first
from runledger.service import build_ingestor
from tests.support.agent import agent_settings
from tests.support.builders import WorkflowBuilder
from tests.support.kube_double import KubeDouble


class HandlerBug(Exception):
    pass


class BrokenHandler:
    """A stream handler with a bug: every event raises."""

    async def on_event(self, event) -> None:
        raise HandlerBug("the handler broke")

    async def on_list_started(self) -> None:
        return None

    async def on_listed(self, objects) -> None:
        return None


def watch_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("watch:") and not t.done()]


async def test_entering_runs_every_stream_and_leaving_ends_them(pool, settings):
    settings = agent_settings(settings)
    async with KubeDouble() as double, client.ApiClient(double.client_configuration()) as api:
        async with build_ingestor(pool=pool, settings=settings) as ingestor:
            agent = ClusterAgent(build_streams(api=api, ingestor=ingestor, cluster=settings.cluster, checkpoints=None))
            async with agent:
                assert len(watch_tasks()) == len(agent.streams) == 2  # workflows and pods
                for stream in agent.streams:
                    await asyncio.wait_for(stream.state.synced.wait(), 10)
            assert not watch_tasks()


async def test_a_stream_that_dies_fails_the_agent_at_once(pool, settings):
    settings = agent_settings(settings)
    async with KubeDouble() as double, client.ApiClient(double.client_configuration()) as api:
        double.create("workflows", WorkflowBuilder(name="wf", namespace="argo").phase("Running").obj)
        custom = client.CustomObjectsApi(api)
        broken = WatchStream(
            name="workflows:broken",
            list_call=functools.partial(custom.list_cluster_custom_object, ARGO_GROUP, ARGO_VERSION, WORKFLOWS),
            handler=BrokenHandler(),
            settings=watch_settings(settings.cluster),
        )
        with pytest.raises(HandlerBug):
            async with ClusterAgent([broken]) as agent:
                await asyncio.wait_for(first(parts=[agent], stop=asyncio.Event().wait()), 10)
        assert not watch_tasks()
