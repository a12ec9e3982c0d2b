"""The replay source reads every format kubectl produces, and reports what it cannot parse."""

from __future__ import annotations

import gzip
import json

from runledger.agent.replay import ReplayErrors, read_events


def workflow(name):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name, "namespace": "ns"}}


def read(path):
    errors = ReplayErrors()
    events = list(read_events(path, errors))
    return events, errors.kept


def test_watch_events_one_per_line_are_read_in_order(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [{"type": t, "object": workflow(f"w{i}")} for i, t in enumerate(["ADDED", "MODIFIED", "DELETED"])]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    events, errors = read(path)
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("ADDED", "w0"), ("MODIFIED", "w1"), ("DELETED", "w2")]
    assert errors == []


def test_pretty_printed_watch_events_back_to_back_are_read(tmp_path):
    path = tmp_path / "kubectl-watch.json"
    path.write_text("".join(json.dumps({"type": "MODIFIED", "object": workflow(f"w{i}")}, indent=4) + "\n" for i in range(3)))
    events, errors = read(path)
    assert [e.object["metadata"]["name"] for e in events] == ["w0", "w1", "w2"] and errors == []


def test_a_workflow_list_becomes_one_added_event_per_item(tmp_path):
    path = tmp_path / "backfill.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [workflow("a"), workflow("b")]}, indent=2))
    events, _ = read(path)
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_yaml_files_with_several_documents_are_read(tmp_path):
    path = tmp_path / "wfs.yaml"
    path.write_text("kind: Workflow\nmetadata:\n  name: a\n---\nkind: WorkflowList\nitems:\n- kind: Workflow\n  metadata:\n    name: b\n")
    events, _ = read(path)
    assert [e.object["metadata"]["name"] for e in events] == ["a", "b"]


def test_gzipped_recordings_are_read(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps({"type": "ADDED", "object": workflow("z")}).encode() + b"\n"))
    events, _ = read(path)
    assert events[0].object["metadata"]["name"] == "z"


def test_malformed_lines_are_reported_with_their_line_and_the_rest_is_read(tmp_path):
    path = tmp_path / "events.jsonl"
    good = json.dumps({"type": "ADDED", "object": workflow("ok")})
    path.write_text("\n".join([good, "garbage", '{"type": "ADDED", "object": {"metadata"', good, '{"type": "NOPE", "object": {}}', "[1, 2]", good]) + "\n")
    events, errors = read(path)
    assert len(events) == 3
    assert [e.where.rsplit(":", 1)[1] for e in errors] == ["2", "3", "5", "6"]
    assert "invalid watch event" in errors[2].reason


def test_a_truncated_document_at_the_end_is_reported(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('{\n  "kind": "Workflow",\n  "metadata": {\n')
    events, errors = read(path)
    assert events == [] and len(errors) == 1
