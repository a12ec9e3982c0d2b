"""Why a watch stream started over, as GET /metrics tells it, and when a 410 makes the relist wait.

The agent watches Workflows through real kubernetes-asyncio clients against the Kubernetes API
double; each test ends the watch one way and reads what the stream counted.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from runledger.agent.exposition import watch_metrics
from runledger.agent.watching import RESTART_REASONS, WatchStream
from runledger.api import prometheus
from runledger.service import build_app
from tests.support.agent import RunningAgent, agent_settings, running_agent, settled
from tests.support.builders import WorkflowBuilder
from tests.support.kube_double import KubeDouble
from tests.support.waiting import eventually


def the_stream(running: RunningAgent) -> WatchStream:
    [stream] = running.agent.streams
    return stream


def create_workflow(double: KubeDouble, name: str) -> None:
    wf = WorkflowBuilder(name=name).phase("Running").obj
    double.create("workflows", {**wf, "metadata": {"name": name, "namespace": "ml"}})


async def watching_again(double: KubeDouble, *, lists: int, watches: int) -> None:
    """Until the agent has made `lists` lists and `watches` accepted watches, the last one open."""
    await double.wait_until(
        lambda: len(double.requests_for("workflows", "list")) == lists
        and double.watches_started("workflows") == watches
        and double.open_watches("workflows") == 1,
        timeout=10,
    )


async def restarts_on_metrics(pool, settings, running: RunningAgent) -> dict[str, float]:
    app = build_app(settings=settings, pool=pool)
    app[prometheus.TELEMETRY].sources["watch"] = lambda: watch_metrics(running.agent.streams)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/metrics")
        text = await response.text()
    [family] = [f for f in text_string_to_metric_families(text) if f.name == "runledger_watch_restarts"]
    stream = the_stream(running).name
    return {s.labels["reason"]: s.value for s in family.samples if s.labels["stream"] == stream}


async def test_a_watch_the_server_ends_at_its_timeout_is_reopened_and_counted_as_a_timeout(pool, settings):
    async with KubeDouble() as double:
        create_workflow(double, "w")
        s = agent_settings(settings, cluster={"kube_watch_pods": False, "watch_timeout_seconds": 1})
        async with running_agent(pool, double, s) as running:
            await settled(running, double)
            state = the_stream(running).state

            async def reopened_twice() -> bool:
                return state.restarts["timeout"] >= 2 and double.watches_started("workflows") >= 3

            await eventually(reopened_twice)
    assert len(double.requests_for("workflows", "list")) == 1  # reopened from its resourceVersion
    assert state.restarts["gone"] == state.restarts["dropped"] == state.restarts["error"] == 0
    assert state.counts["backoffs"] == 0


async def test_dropped_throttled_failed_and_gone_watches_are_counted_by_reason_on_metrics(pool, settings):
    async with KubeDouble() as double:
        create_workflow(double, "w")
        async with running_agent(pool, double, agent_settings(settings, cluster={"kube_watch_pods": False})) as running:
            await settled(running, double)
            before = await restarts_on_metrics(pool, settings, running)

            double.fail_next("workflows", 429, retry_after=0, verb="watch")
            assert double.drop_watches("workflows") == 1  # dropped, then the reconnect is throttled
            await watching_again(double, lists=1, watches=2)
            double.inject_error_event("workflows", code=500)
            await watching_again(double, lists=1, watches=3)
            double.inject_error_event("workflows", code=410)
            await watching_again(double, lists=2, watches=4)

            after = await restarts_on_metrics(pool, settings, running)
            backoffs = the_stream(running).state.counts["backoffs"]
    assert before == dict.fromkeys(RESTART_REASONS, 0)
    assert after == {"timeout": 0, "dropped": 1, "throttled": 1, "error": 1, "gone": 1}
    assert backoffs == 3  # before each retry but the relist straight after a first 410


async def test_a_watch_silent_past_the_inactivity_timeout_is_abandoned_and_counted_as_dropped(pool, settings):
    async with KubeDouble() as double:
        create_workflow(double, "w")
        s = agent_settings(settings, cluster={"kube_watch_pods": False, "watch_inactivity_seconds": 0.5})
        async with running_agent(pool, double, s) as running:
            await settled(running, double)
            double.pause_watches("workflows")
            await double.wait_until(lambda: double.watches_started("workflows") == 2, timeout=10)
            state = the_stream(running).state
    assert state.restarts["dropped"] == 1 and state.restarts["error"] == 0
    assert len(double.requests_for("workflows", "list")) == 1  # resumed, not relisted


async def test_a_410_after_the_new_watch_delivered_relists_at_once_however_many_came_before(pool, settings):
    async with KubeDouble() as double:
        create_workflow(double, "w")
        async with running_agent(pool, double, agent_settings(settings, cluster={"kube_watch_pods": False})) as running:
            await settled(running, double)
            state = the_stream(running).state
            double.inject_error_event("workflows", code=410)
            await watching_again(double, lists=2, watches=2)
            create_workflow(double, "w2")

            async def delivered() -> bool:
                return state.counts["events"] == 1

            await eventually(delivered)
            double.inject_error_event("workflows", code=410)
            await watching_again(double, lists=3, watches=3)
    assert state.restarts["gone"] == 2
    assert state.counts["backoffs"] == 0


async def test_a_410_again_before_the_new_watch_delivered_anything_waits_before_relisting(pool, settings):
    async with KubeDouble() as double:
        create_workflow(double, "w")
        async with running_agent(pool, double, agent_settings(settings, cluster={"kube_watch_pods": False})) as running:
            await settled(running, double)
            state = the_stream(running).state
            double.inject_error_event("workflows", code=410, future=1)  # the relist's watch gets a 410 at once
            await watching_again(double, lists=3, watches=3)
            assert state.restarts["gone"] == 2 and state.counts["backoffs"] == 1

            create_workflow(double, "w2")  # the watch delivers: that run of 410s is over

            async def delivered() -> bool:
                return state.counts["events"] == 1

            await eventually(delivered)
            double.inject_error_event("workflows", code=410)
            await watching_again(double, lists=4, watches=4)
    assert state.restarts["gone"] == 3 and state.counts["backoffs"] == 1
