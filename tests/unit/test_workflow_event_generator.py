"""The synthetic watch-event generator: deterministic, causal, and shaped like Argo/KFP objects."""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache

import orjson
import pytest

from bench.workflow_events import (
    count_node_changes,
    fanout_events,
    generate_events,
    write_recording,
)

TERMINAL = {"Succeeded", "Failed", "Error", "Omitted", "Skipped"}
RANK = {"Pending": 0, "Running": 1} | dict.fromkeys(TERMINAL, 2)
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@cache
def stream(runs: int = 60, seed: int = 7) -> tuple[dict, ...]:
    return tuple(generate_events(runs=runs, nodes_per_run=8, seed=seed))


def by_run(events) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        runs[event["object"]["metadata"]["uid"]].append(event)
    return runs


def final_objects(events) -> list[dict]:
    return [run[-1]["object"] for run in by_run(events).values()]


def nodes_of(obj: dict) -> dict[str, dict]:
    return (obj.get("status") or {}).get("nodes") or {}


def test_the_same_seed_gives_the_same_events_and_another_seed_other_events():
    assert list(generate_events(runs=5, seed=3)) == list(generate_events(runs=5, seed=3))
    assert list(generate_events(runs=5, seed=3)) != list(generate_events(runs=5, seed=4))


def test_the_recording_file_is_byte_identical_for_a_seed(tmp_path):
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    assert write_recording(first, generate_events(runs=4, seed=1)) > 0
    write_recording(second, generate_events(runs=4, seed=1))
    assert first.read_bytes() == second.read_bytes()


def test_resource_versions_strictly_increase_across_the_whole_stream():
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in stream()]
    assert all(a < b for a, b in zip(versions, versions[1:]))


def test_events_are_plain_watch_events_with_full_workflow_objects():
    for event in stream():
        assert set(event) == {"type", "object"}
        assert event["type"] in {"ADDED", "MODIFIED", "DELETED"}
        obj = event["object"]
        assert obj["apiVersion"] == "argoproj.io/v1alpha1" and obj["kind"] == "Workflow"
        meta = obj["metadata"]
        assert re.fullmatch(re.escape(meta["generateName"]) + r"[a-z0-9]{5}", meta["name"])
        assert meta["labels"]["workflows.argoproj.io/phase"] == obj["status"]["phase"]
        assert orjson.loads(meta["annotations"]["pipelines.kubeflow.org/pipeline_spec"])["name"]
        assert obj["spec"]["templates"] and obj["spec"]["arguments"]["parameters"]


def test_every_run_is_added_once_first_and_is_interleaved_with_other_runs():
    runs = by_run(stream())
    assert len(runs) == 60
    for events in runs.values():
        assert [e["type"] for e in events].count("ADDED") == 1 and events[0]["type"] == "ADDED"
    names_early_on = {e["object"]["metadata"]["name"] for e in stream()[:40]}
    assert len(names_early_on) > 1


def test_every_run_ends_in_a_terminal_phase_or_is_deleted():
    last_events: dict[str, dict] = {}
    for event in generate_events(runs=200, nodes_per_run=4, seed=11):  # streamed: long, not kept
        last_events[event["object"]["metadata"]["uid"]] = event
    assert len(last_events) == 200
    deleted = 0
    for last in last_events.values():
        if last["type"] == "DELETED":
            deleted += 1
        else:
            assert last["object"]["status"]["phase"] in {"Succeeded", "Failed"}
            assert last["object"]["status"]["finishedAt"]
            assert last["object"]["metadata"]["labels"]["workflows.argoproj.io/completed"] == "true"
    assert deleted, "a stream this long should hold a deletion"


def test_phases_and_timestamps_of_a_run_never_go_back():
    for run in by_run(stream()).values():
        seen: dict[str, int] = {}
        latest = ""
        for event in run:
            obj = event["object"]
            assert RANK[obj["status"]["phase"]] >= seen.get("", 0)
            seen[""] = RANK[obj["status"]["phase"]]
            for node_id, node in nodes_of(obj).items():
                assert RANK[node["phase"]] >= seen.get(node_id, 0), node_id
                seen[node_id] = RANK[node["phase"]]
                assert STAMP.match(node["startedAt"])
                assert (node["finishedAt"] is not None) == (node["phase"] in TERMINAL)
            things = [obj["status"], *nodes_of(obj).values()]
            stamps = [t[k] for t in things for k in ("startedAt", "finishedAt") if t.get(k)]
            assert all(STAMP.match(s) for s in stamps)
            assert all(t["startedAt"] <= t["finishedAt"] for t in things if t.get("finishedAt"))
            assert obj["metadata"]["creationTimestamp"] <= obj["status"]["startedAt"]
            assert max(stamps) >= latest  # RFC 3339 UTC strings order like the times they name
            latest = max(stamps)


def test_node_children_name_nodes_of_the_same_workflow_and_ids_follow_argo():
    for obj in final_objects(stream()):
        name, nodes = obj["metadata"]["name"], nodes_of(obj)
        assert nodes[name]["type"] == "DAG"
        for node_id, node in nodes.items():
            assert node["id"] == node_id
            assert node_id == name or re.fullmatch(re.escape(name) + r"-\d{1,10}", node_id)
            assert node_id == name or node["boundaryID"] == name
            assert all(child in nodes for child in node.get("children", ()))
            assert all(out in nodes for out in node.get("outboundNodes", ()))


def test_children_links_form_a_dag_reaching_every_node_from_the_root():
    for obj in final_objects(stream()):
        nodes, root = nodes_of(obj), obj["metadata"]["name"]
        reached, frontier = {root}, [root]
        while frontier:
            for child in nodes[frontier.pop()].get("children", ()):
                if child not in reached:
                    reached.add(child)
                    frontier.append(child)
        assert reached == set(nodes)
        order = {node_id: i for i, node_id in enumerate(nodes)}  # creation order
        assert all(order[p] < order[c] for p, n in nodes.items() for c in n.get("children", ()))


def test_each_run_has_a_retry_node_whose_children_are_its_pod_attempts():
    with_failed_attempt = 0
    for obj in final_objects(stream()):
        nodes = nodes_of(obj)
        retries = [n for n in nodes.values() if n["type"] == "Retry"]
        if not retries:
            continue  # deleted before reaching its retried task
        for retry in retries:
            attempts = [nodes[c] for c in retry["children"]]
            assert all(a["type"] == "Pod" and a["displayName"].startswith(retry["displayName"] + "(") for a in attempts)
            assert retry["phase"] in ("Running", attempts[-1]["phase"])
            if [a["phase"] for a in attempts] == ["Failed", "Succeeded"]:
                with_failed_attempt += 1
    assert with_failed_attempt


def test_failed_runs_say_which_child_failed_and_omit_its_dependents():
    failed = [o for o in final_objects(stream()) if o["status"]["phase"] == "Failed"]
    assert failed
    omitted = 0
    for obj in failed:
        child = re.fullmatch(r"child '(.+)' failed", obj["status"]["message"]).group(1)
        assert nodes_of(obj)[child]["phase"] == "Failed"
        for node in nodes_of(obj).values():
            if node["phase"] == "Omitted":
                assert node["type"] == "Skipped"
                omitted += 1
    assert omitted


def test_artifacts_and_parameters_handed_to_a_step_are_what_upstream_wrote():
    written: set[str] = set()
    crossing = 0
    for event in generate_events(runs=150, nodes_per_run=6, seed=5):
        nodes = nodes_of(event["object"])
        for node in nodes.values():
            for art in node.get("outputs", {}).get("artifacts", ()):
                assert set(art["s3"]) == {"key"}  # key-only: bucket comes from artifactRepositoryRef
        outputs = {p["name"]: p["value"] for n in nodes.values() for p in n.get("outputs", {}).get("parameters", ())}
        for node in nodes.values():
            for param in node.get("inputs", {}).get("parameters", ()):
                if param["name"].endswith("-result"):
                    assert outputs[param["name"]] == param["value"]
            for art in node.get("inputs", {}).get("artifacts", ()):
                assert art["s3"]["key"] in written, (node["id"], art)
                crossing += art["name"] == "upstream-data"
        for node in nodes.values():
            written.update(a["s3"]["key"] for a in node.get("outputs", {}).get("artifacts", ()))
    assert crossing, "some run should read an artifact an earlier run wrote"


def test_logs_and_kfp_metrics_keys_follow_the_repository_key_format():
    for obj in final_objects(stream()):
        name = obj["metadata"]["name"]
        assert obj["status"]["artifactRepositoryRef"]["artifactRepository"]["s3"]["bucket"] == "mlpipeline"
        for node in nodes_of(obj).values():
            arts = {a["name"]: a["s3"]["key"] for a in node.get("outputs", {}).get("artifacts", ())}
            if node["type"] == "Pod" and node["phase"] in ("Succeeded", "Failed"):
                pod = f"{name}-{node['templateName']}-{node['id'].rsplit('-', 1)[1]}"
                assert arts["main-logs"] == f"artifacts/{name}/{pod}/main.log"
                if "mlpipeline-metrics" in arts:
                    assert arts["mlpipeline-metrics"] == f"artifacts/{name}/{pod}/mlpipeline-metrics.tgz"
                    assert "mlpipeline-ui-metadata" in arts


def test_some_runs_are_owned_by_a_kfp_schedule():
    labels = [o["metadata"]["labels"] for o in final_objects(stream())]
    scheduled = [x for x in labels if "scheduledworkflows.kubeflow.org/scheduledWorkflowName" in x]
    assert 0 < len(scheduled) < len(labels)
    assert all(x["pipeline/runid"] for x in labels)


def test_final_objects_translate_without_warnings():
    translate = pytest.importorskip("runledger.agent.translate").translate_workflow
    for event in stream():
        state = translate(event["object"], deleted=event["type"] == "DELETED")
        assert state.warnings == ()


def test_fanout_run_ends_with_exactly_the_requested_pod_nodes_changing_in_waves():
    events = list(fanout_events(nodes=1234, seed=2))
    nodes = nodes_of(events[-1]["object"])
    pods = [n for n in nodes.values() if n["type"] == "Pod"]
    assert len(pods) == 1234 and all(p["phase"] == "Succeeded" for p in pods)
    assert {n["type"] for n in nodes.values()} == {"Steps", "StepGroup", "Pod"}
    assert events[-1]["object"]["status"]["phase"] == "Succeeded"
    pairs = zip(events, events[1:])
    per_event = [count_node_changes([before, after]) - count_node_changes([before]) for before, after in pairs]
    assert max(per_event) <= 250
    assert count_node_changes(events) == 1234 * 3 + 2 + 2  # pods: 3 phases; root and group: 2 each


def test_count_node_changes_counts_new_nodes_and_phase_changes_per_run():
    def event(uid, **phases):
        nodes = {node_id: {"id": node_id, "phase": phase} for node_id, phase in phases.items()}
        return {"type": "MODIFIED", "object": {"metadata": {"uid": uid}, "status": {"nodes": nodes}}}

    events = [
        {"type": "ADDED", "object": {"metadata": {"uid": "a"}, "status": {}}},  # 0
        event("a", root="Running"),  # 1: new root
        event("b", root="Running", x="Pending"),  # 2: another run, both new
        event("a", root="Running", x="Pending"),  # 1: x new in run a
        event("a", root="Running", x="Running"),  # 1
        event("a", root="Running", x="Running"),  # 0: a resend without change
        event("b", root="Succeeded", x="Succeeded"),  # 2
        {"type": "DELETED", "object": event("a", root="Running", x="Running")["object"]},  # 0
    ]
    assert count_node_changes(events) == 7
