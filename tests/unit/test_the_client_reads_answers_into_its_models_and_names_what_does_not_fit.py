"""The client reads the API's JSON into its models as their fields declare them (times zone-aware, an
integer where a float is declared, the lineage node each body is, unknown fields ignored), writes them
back as the API wrote them, and names the place of a body that does not fit."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from runledger.client.decoding import DecodeError, dump, read
from runledger.client.models import ArtifactNode, LineageGraph, MetricOut, RedactedNode, RunPage, StepIO, StepNode

RUN = {"id": "uid-1", "namespace": "ml", "name": "train", "uid": "uid-1", "phase": "Succeeded", "message": None,
       "shutdown": None, "kfp_run_id": None, "pipeline_name": "p", "scheduled_workflow": None,
       "created_at": "2026-01-31T12:00:00Z", "started_at": "2026-01-31T12:00:01.250000Z", "finished_at": None,
       "deleted": False, "deleted_at": None, "labels": {"team": "a"}, "parameters": {"lr": "0.1", "x": None},
       "step_counts": {"Succeeded": 3}, "nodes_offloaded": False, "updated_at": "2026-01-31T12:05:00Z",
       "failed_step": None, "failure": None, "resources_duration": {"cpu": 12}, "progress": "3/3",
       "estimated_duration": None, "duration": 42.5, "kfp": None, "added_by_a_newer_server": [1, 2]}  # fmt: skip
NODES = [
    {"id": "step:r/n", "kind": "step", "root": True, "depth": 0, "redacted": False, "run_id": "r", "node_id": "n",
     "name": "n", "display_name": None, "type": "Pod", "template": "t", "phase": "Succeeded", "started_at": None,
     "finished_at": None, "namespace": "ml", "run_name": "train", "pipeline_name": None},
    {"id": "artifact:3", "kind": "artifact", "root": False, "depth": 1, "redacted": False, "artifact_id": 3,
     "uri": "s3://b/k", "state": "indexed", "size": None, "names": ["model"]},
    {"id": "step:hidden", "kind": "step", "root": False, "depth": 1, "redacted": True},
]  # fmt: skip


def test_a_page_of_runs_reads_with_zone_aware_times_and_without_the_fields_it_does_not_know():
    page = read(RunPage, json.dumps({"runs": [RUN], "next_page_token": "t"}))
    run = page.runs[0]
    assert run.started_at == datetime(2026, 1, 31, 12, 0, 1, 250000, tzinfo=UTC) and run.finished_at is None
    assert (run.parameters, run.duration, page.total) == ({"lr": "0.1", "x": None}, 42.5, None)
    assert not hasattr(run, "added_by_a_newer_server")
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.name = "other"  # type: ignore[misc]


def test_written_back_a_run_is_the_apis_json_less_what_the_model_does_not_know():
    page = read(RunPage, json.dumps({"runs": [RUN], "next_page_token": None}))
    expected = {k: v for k, v in RUN.items() if k != "added_by_a_newer_server"}
    assert json.loads(dump(page.runs[0])) == expected
    assert list(json.loads(dump(page.runs[0]))) == list(expected)  # in the fields' order


def test_an_integer_reads_as_a_float_where_a_float_is_declared():
    metric = read(MetricOut, b'{"step_id": "s", "name": "acc", "value": 1, "format": "RAW", "artifact_id": 2, "is_run_value": true}')
    assert metric.value == 1.0 and isinstance(metric.value, float)


def test_each_lineage_node_reads_as_the_kind_of_node_it_is():
    graph = read(LineageGraph, json.dumps({"root": "step:r/n", "direction": "both", "depth": 1, "nodes": NODES,
                                           "edges": [], "truncated": False}))  # fmt: skip
    assert [type(n) for n in graph.nodes] == [StepNode, ArtifactNode, RedactedNode]
    assert graph.truncated_at_depth is None


@pytest.mark.parametrize(("body", "where"), [
    ({"runs": [{**RUN, "name": None}], "next_page_token": None}, "RunPage.runs[0].name: a str expected, not null"),
    ({"runs": [{k: v for k, v in RUN.items() if k != "phase"}], "next_page_token": None}, "RunPage.runs[0].phase: missing"),
    ({"runs": [{**RUN, "created_at": "yesterday"}], "next_page_token": None}, "RunPage.runs[0].created_at: an RFC 3339 time"),
    ({"runs": {}, "next_page_token": None}, "RunPage.runs: an array expected"),
])  # fmt: skip
def test_a_body_that_does_not_fit_says_where(body: dict, where: str):
    with pytest.raises(DecodeError, match=where.replace("[", r"\[").replace("]", r"\]")):
        read(RunPage, json.dumps(body))


def test_models_are_built_by_keyword_with_their_defaults_and_compare_by_value():
    assert StepIO() == StepIO(parameters=[], artifacts=[]) != StepIO(parameters=[], artifacts=[None])
    with pytest.raises(TypeError, match="needs the field 'runs'"):
        RunPage(next_page_token=None)
