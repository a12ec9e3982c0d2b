"""The Kubernetes API double speaks the real protocol to the real kubernetes_asyncio clients.

If these pass, a test that drives the agent against the double exercises the same requests and
responses it would see from kube-apiserver: paged lists from one snapshot, watches resumed from a
resourceVersion, bookmarks, 410s, throttling, optimistic concurrency on Leases.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import watch
from kubernetes_asyncio.client import (
    ApiClient,
    CoordinationV1Api,
    CoreV1Api,
    CustomObjectsApi,
    V1Lease,
    V1LeaseSpec,
    V1ObjectMeta,
)
from kubernetes_asyncio.client.exceptions import ApiException

from tests.support.kube_double import KubeDouble

ARGO = ("argoproj.io", "v1alpha1")
ARGO_POD_LABEL = "workflows.argoproj.io/workflow"


@pytest.fixture
async def kube() -> AsyncIterator[KubeDouble]:
    async with KubeDouble() as double:
        yield double


@pytest.fixture
async def api(kube: KubeDouble) -> AsyncIterator[ApiClient]:
    async with ApiClient(kube.client_configuration()) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def workflow(name: str, namespace: str = "ml", phase: str = "Running", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"entrypoint": "main"},
        "status": {"phase": phase},
    }


def pod(name: str, namespace: str = "ml", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": "Running"},
    }


async def next_line(response: aiohttp.ClientResponse, timeout: float = 2.0) -> bytes:
    return await asyncio.wait_for(response.content.readline(), timeout)


async def raw_watch(
    http: aiohttp.ClientSession, kube: KubeDouble, path: str, **params: str
) -> aiohttp.ClientResponse:
    return await http.get(kube.url + path, params={"watch": "true", **params})


def continued(page: dict[str, Any]) -> str:
    return page["metadata"]["continue"]


WORKFLOWS_ML = "/apis/argoproj.io/v1alpha1/namespaces/ml/workflows"


async def test_a_paged_workflow_list_serves_every_page_from_the_first_pages_snapshot(kube, api):
    for i in range(1, 6):
        kube.create("workflows", workflow(f"wf-{i}"))
    custom = CustomObjectsApi(api)

    first = await custom.list_cluster_custom_object(*ARGO, "workflows", limit=2)
    kube.delete("workflows", "ml", "wf-3")
    kube.update("workflows", workflow("wf-4", phase="Succeeded"))
    kube.create("workflows", workflow("wf-0"))
    second = await custom.list_cluster_custom_object(*ARGO, "workflows", limit=2, _continue=continued(first))
    third = await custom.list_cluster_custom_object(*ARGO, "workflows", limit=2, _continue=continued(second))

    pages = [first, second, third]
    names = [[i["metadata"]["name"] for i in p["items"]] for p in pages]
    assert names == [["wf-1", "wf-2"], ["wf-3", "wf-4"], ["wf-5"]]
    assert second["items"][1]["status"]["phase"] == "Running"  # as it was when the list began
    assert {p["metadata"]["resourceVersion"] for p in pages} == {first["metadata"]["resourceVersion"]}
    assert first["metadata"]["remainingItemCount"] == 3
    assert "continue" not in third["metadata"]
    assert first["kind"] == "WorkflowList" and first["items"][0]["kind"] == "Workflow"


async def test_a_continue_token_from_before_a_compaction_is_refused_with_410_expired(kube, api):
    for i in range(3):
        kube.create("workflows", workflow(f"wf-{i}"))
    custom = CustomObjectsApi(api)
    first = await custom.list_cluster_custom_object(*ARGO, "workflows", limit=1)
    kube.update("workflows", workflow("wf-0", phase="Failed"))
    kube.compact()

    with pytest.raises(ApiException) as caught:
        await custom.list_cluster_custom_object(*ARGO, "workflows", limit=1, _continue=continued(first))

    status = json.loads(caught.value.body)
    assert caught.value.status == 410
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Expired", 410)


async def test_a_watch_from_a_listed_version_sees_added_modified_deleted_in_order_then_a_bookmark(kube, api):
    custom = CustomObjectsApi(api)
    kube.create("workflows", workflow("before-the-list"))
    listed = await custom.list_namespaced_custom_object(*ARGO, "ml", "workflows")
    kube.create("workflows", workflow("wf-a", phase="Pending"))
    kube.update("workflows", workflow("wf-a", phase="Running"))
    kube.create("workflows", workflow("elsewhere", namespace="other"))

    seen: list[tuple[str, str | None, int]] = []
    async with watch.Watch() as stream:
        async for event in stream.stream(
            custom.list_namespaced_custom_object, *ARGO, "ml", "workflows",
            resource_version=listed["metadata"]["resourceVersion"], allow_watch_bookmarks=True, timeout_seconds=5,
        ):  # fmt: skip
            meta = event["raw_object"]["metadata"]
            seen.append((event["type"], meta.get("name"), int(meta["resourceVersion"])))
            if event["type"] == "MODIFIED":
                kube.delete("workflows", "ml", "wf-a")  # live, while the watch is open
            elif event["type"] == "DELETED":
                kube.send_bookmarks("workflows")
            elif event["type"] == "BOOKMARK":
                break

    assert [(t, n) for t, n, _ in seen] == [
        ("ADDED", "wf-a"), ("MODIFIED", "wf-a"), ("DELETED", "wf-a"), ("BOOKMARK", None),
    ]  # fmt: skip
    versions = [rv for _, _, rv in seen]
    assert versions == sorted(versions) and versions[-1] == kube.revision
    assert stream.resource_version == str(kube.revision)


async def test_a_watch_without_a_resource_version_starts_with_the_current_state_as_added(kube, api):
    kube.create("workflows", workflow("wf-b"))
    kube.create("workflows", workflow("wf-a"))
    custom = CustomObjectsApi(api)
    names = []
    async with watch.Watch() as stream:
        async for event in stream.stream(custom.list_cluster_custom_object, *ARGO, "workflows", timeout_seconds=5):
            names.append((event["type"], event["object"]["metadata"]["name"]))
            if len(names) == 2:
                break
    assert names == [("ADDED", "wf-a"), ("ADDED", "wf-b")]


@pytest.mark.parametrize("as_http_status", [False, True], ids=["error-event", "http-410"])
async def test_a_watch_from_a_compacted_resource_version_fails_with_410(kube, api, as_http_status):
    kube.stale_watch_as_http_410 = as_http_status
    kube.create("workflows", workflow("wf-a"))
    too_old = kube.revision
    kube.update("workflows", workflow("wf-a", phase="Succeeded"))
    kube.compact()
    custom = CustomObjectsApi(api)

    with pytest.raises(ApiException) as caught:
        async with watch.Watch() as stream:
            async for _ in stream.stream(
                custom.list_namespaced_custom_object, *ARGO, "ml", "workflows",
                resource_version=str(too_old), timeout_seconds=5,
            ):  # fmt: skip
                pass
    assert caught.value.status == 410
    assert "Expired" in caught.value.reason


async def test_a_stale_watch_is_answered_200_then_an_expired_error_event_then_a_clean_end(kube, http):
    kube.create("workflows", workflow("wf-a"))
    kube.update("workflows", workflow("wf-a", phase="Failed"))
    kube.compact()
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion="1") as response:
        assert response.status == 200
        event = json.loads(await next_line(response))
        assert await next_line(response) == b""
    assert event == {
        "type": "ERROR",
        "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "too old resource version: 1 (2)", "reason": "Expired", "code": 410},
    }  # fmt: skip


async def test_a_429_with_retry_after_surfaces_as_an_api_exception_carrying_the_header(kube, api):
    kube.fail_next("workflows", 429, retry_after=7)
    custom = CustomObjectsApi(api)

    with pytest.raises(ApiException) as caught:
        await custom.list_cluster_custom_object(*ARGO, "workflows")
    again = await custom.list_cluster_custom_object(*ARGO, "workflows")

    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "7"
    assert json.loads(caught.value.body)["details"] == {"retryAfterSeconds": 7}
    assert again["items"] == []
    assert len(kube.requests_for("workflows", "list")) == 2


async def test_injected_faults_answer_the_next_requests_then_stop(kube, api, http):
    kube.fail_next("pods", 503, times=2)
    kube.fail_next("workflows", 200, body="<html>login page</html>", content_type="text/html")
    core = CoreV1Api(api)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            await core.list_pod_for_all_namespaces()
        assert json.loads(caught.value.body)["reason"] == "ServiceUnavailable"
    assert (await core.list_pod_for_all_namespaces()).items == []

    async with http.get(kube.url + "/apis/argoproj.io/v1alpha1/workflows") as response:
        served = (response.status, response.content_type, await response.text())
    assert served == (200, "text/html", "<html>login page</html>")


async def test_leases_are_created_read_and_replaced_with_optimistic_concurrency(kube, api):
    leases = CoordinationV1Api(api)
    lease = V1Lease(
        metadata=V1ObjectMeta(name="runledger-agent", namespace="ml"),
        spec=V1LeaseSpec(holder_identity="pod-a", lease_duration_seconds=15, renew_time=datetime.now(UTC)),
    )

    created = await leases.create_namespaced_lease("ml", lease)
    read = await leases.read_namespaced_lease("runledger-agent", "ml")
    read.spec.holder_identity = "pod-b"
    replaced = await leases.replace_namespaced_lease("runledger-agent", "ml", read)
    read.spec.holder_identity = "pod-c"  # still carries the resourceVersion replaced above
    with pytest.raises(ApiException) as stale:
        await leases.replace_namespaced_lease("runledger-agent", "ml", read)
    with pytest.raises(ApiException) as duplicate:
        await leases.create_namespaced_lease("ml", lease)
    with pytest.raises(ApiException) as missing:
        await leases.read_namespaced_lease("nobody", "ml")

    assert created.metadata.uid == replaced.metadata.uid
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.spec.holder_identity == "pod-b" and replaced.spec.renew_time == lease.spec.renew_time
    assert (stale.value.status, json.loads(stale.value.body)["reason"]) == (409, "Conflict")
    assert (duplicate.value.status, json.loads(duplicate.value.body)["reason"]) == (409, "AlreadyExists")
    assert (missing.value.status, json.loads(missing.value.body)["reason"]) == (404, "NotFound")
    assert kube.get("leases", "ml", "runledger-agent")["spec"]["holderIdentity"] == "pod-b"


async def test_pods_listed_cluster_wide_are_filtered_by_label_existence(kube, api):
    kube.create("pods", pod("p1", labels={ARGO_POD_LABEL: "wf-1"}))
    kube.create("pods", pod("p2", namespace="other", labels={ARGO_POD_LABEL: "wf-2"}))
    kube.create("pods", pod("unrelated"))

    listed = await CoreV1Api(api).list_pod_for_all_namespaces(label_selector=ARGO_POD_LABEL)

    assert [(p.metadata.namespace, p.metadata.name) for p in listed.items] == [("ml", "p1"), ("other", "p2")]
    assert listed.kind == "PodList" and listed.metadata.resource_version == str(kube.revision)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=a", ["a-web", "a-db"]),
        ("app==a", ["a-web", "a-db"]),
        ("app!=a", ["b", "none"]),
        ("!app", ["none"]),
        ("app in (a, b)", ["a-web", "a-db", "b"]),
        ("app notin (a)", ["b", "none"]),
        ("app=a,tier=web", ["a-web"]),
        ("app,tier notin (web)", ["a-db", "b"]),
    ],
)
async def test_label_selectors_follow_the_kubernetes_grammar(kube, api, selector, expected):
    for name, labels in [("a-web", {"app": "a", "tier": "web"}), ("a-db", {"app": "a", "tier": "db"}),
                         ("b", {"app": "b"}), ("none", {})]:  # fmt: skip
        kube.create("pods", pod(name, labels=labels))
    listed = await CoreV1Api(api).list_namespaced_pod("ml", label_selector=selector)
    assert sorted(p.metadata.name for p in listed.items) == sorted(expected)


async def test_a_malformed_label_selector_is_a_400_bad_request(api):
    with pytest.raises(ApiException) as caught:
        await CoreV1Api(api).list_pod_for_all_namespaces(label_selector="app in (a")
    assert (caught.value.status, json.loads(caught.value.body)["reason"]) == (400, "BadRequest")


async def test_a_raw_watch_read_line_by_line_sees_events_garbage_bookmarks_and_a_dropped_connection(kube, api):
    custom = CustomObjectsApi(api)
    listed = await custom.list_namespaced_custom_object(*ARGO, "ml", "workflows")
    response = await custom.list_namespaced_custom_object(
        *ARGO, "ml", "workflows", watch=True, resource_version=listed["metadata"]["resourceVersion"],
        allow_watch_bookmarks=True, _preload_content=False,
    )  # fmt: skip
    try:
        assert (response.status, response.content_type) == (200, "application/json")
        await kube.wait_for_watchers("workflows", 1)
        kube.create("workflows", workflow("wf-a"))
        added = json.loads(await next_line(response))
        kube.inject_garbage_line("workflows")
        garbage = await next_line(response)
        kube.send_bookmarks("workflows")
        bookmark = json.loads(await next_line(response))
        kube.drop_watches("workflows")
        with pytest.raises(aiohttp.ClientPayloadError):
            await next_line(response)
    finally:
        response.release()

    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "wf-a")
    with pytest.raises(ValueError):
        json.loads(garbage)
    assert bookmark == {
        "type": "BOOKMARK",
        "object": {"kind": "Workflow", "apiVersion": "argoproj.io/v1alpha1",
                   "metadata": {"resourceVersion": str(kube.revision)}},
    }  # fmt: skip
    await kube.wait_until(lambda: kube.open_watches("workflows") == 0)


async def test_a_resumed_watch_replays_only_later_events_and_needs_no_relist(kube, http):
    kube.create("workflows", workflow("wf-a"))
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion="0") as response:
        last_seen = json.loads(await next_line(response))["object"]["metadata"]["resourceVersion"]
        kube.drop_watches("workflows")
    kube.update("workflows", workflow("wf-a", phase="Succeeded"))
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion=last_seen) as response:
        event = json.loads(await next_line(response))

    assert (event["type"], event["object"]["status"]["phase"]) == ("MODIFIED", "Succeeded")
    assert kube.requests_for("workflows", "list") == []
    assert kube.watches_started("workflows") == 2


async def test_an_object_relabelled_out_of_a_watchers_selector_is_seen_as_deleted_and_back_as_added(kube, http):
    kube.create("pods", pod("p1", labels={"app": "a"}))
    params = {"labelSelector": "app=a", "resourceVersion": str(kube.revision)}
    async with await raw_watch(http, kube, "/api/v1/pods", **params) as response:
        await kube.wait_for_watchers("pods", 1)
        kube.update("pods", pod("p1", labels={"app": "b"}))
        left = json.loads(await next_line(response))
        kube.update("pods", pod("p1", labels={"app": "a"}))
        back = json.loads(await next_line(response))

    assert left["type"] == "DELETED"
    assert left["object"]["metadata"]["labels"] == {"app": "a"}  # the last content it matched with
    assert int(left["object"]["metadata"]["resourceVersion"]) == kube.revision - 1
    assert back["type"] == "ADDED"


async def test_an_injected_error_event_ends_open_watches_and_the_next_one(kube, http):
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion="0") as response:
        await kube.wait_for_watchers("workflows", 1)
        kube.inject_error_event("workflows", future=1)
        error = json.loads(await next_line(response))
        assert await next_line(response) == b""
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion="0") as response:
        again = json.loads(await next_line(response))
        assert await next_line(response) == b""

    assert error["type"] == again["type"] == "ERROR"
    assert (error["object"]["code"], error["object"]["reason"]) == (410, "Expired")


async def test_paused_watches_hold_events_until_resumed(kube, http):
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion="0") as response:
        await kube.wait_for_watchers("workflows", 1)
        kube.pause_watches("workflows")
        kube.create("workflows", workflow("wf-a"))
        with pytest.raises(TimeoutError):
            await next_line(response, timeout=0.05)
        kube.resume_watches("workflows")
        event = json.loads(await next_line(response))
    assert event["type"] == "ADDED"


async def test_a_watch_ends_cleanly_when_its_timeout_seconds_elapse(kube, http):
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion="0", timeoutSeconds="1") as response:
        assert await next_line(response, timeout=3) == b""


async def test_closing_the_double_ends_open_watches_cleanly(kube, http):
    async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion="0") as response:
        await kube.wait_for_watchers("workflows", 1)
        await kube.close()
        assert await next_line(response) == b""


async def test_unknown_paths_and_methods_are_answered_with_status_objects(kube, http):
    async with http.get(kube.url + "/apis/argoproj.io/v1alpha1/cronworkflows") as unknown:
        assert (unknown.status, (await unknown.json())["reason"]) == (404, "NotFound")
    async with http.post(kube.url + "/apis/argoproj.io/v1alpha1/workflows", json={}) as not_allowed:
        assert (not_allowed.status, (await not_allowed.json())["reason"]) == (405, "MethodNotAllowed")
    assert [r.method for r in kube.requests] == ["GET", "POST"]


async def test_a_bounded_history_compacts_itself_so_an_old_watch_gets_410(http):
    async with KubeDouble(history_limit=2) as kube:
        kube.create("workflows", workflow("wf-a"))
        first = kube.revision
        for phase in ("Succeeded", "Failed", "Error"):
            kube.update("workflows", workflow("wf-a", phase=phase))
        async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion=str(first)) as response:
            event = json.loads(await next_line(response))
        async with await raw_watch(http, kube, WORKFLOWS_ML, resourceVersion=str(kube.revision - 2)) as response:
            kept = [json.loads(await next_line(response)) for _ in range(2)]
    assert (event["type"], event["object"]["code"]) == ("ERROR", 410)
    assert [e["object"]["status"]["phase"] for e in kept] == ["Failed", "Error"]


async def test_a_watch_asking_for_initial_events_ends_them_with_an_annotated_bookmark(kube, http):
    kube.create("pods", pod("p1"))
    params = {"sendInitialEvents": "true", "allowWatchBookmarks": "true", "resourceVersionMatch": "NotOlderThan"}
    async with await raw_watch(http, kube, "/api/v1/namespaces/ml/pods", **params) as response:
        added, bookmark = [json.loads(await next_line(response)) for _ in range(2)]
    assert (added["type"], added["object"]["kind"]) == ("ADDED", "Pod")
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"] == {
        "resourceVersion": str(kube.revision), "annotations": {"k8s.io/initial-events-end": "true"},
    }  # fmt: skip


async def test_a_throttled_response_always_says_when_to_retry(kube, http):
    kube.fail_next("leases", 429, verb="update")
    path = "/apis/coordination.k8s.io/v1/namespaces/ml/leases"
    async with http.get(kube.url + path + "/missing") as not_throttled:
        assert not_throttled.status == 404
    async with http.put(kube.url + path + "/missing", json={"metadata": {"name": "missing"}}) as throttled:
        assert (throttled.status, throttled.headers["Retry-After"]) == (429, "1")
