"""Every kind of event runledger emits is a valid OpenLineage RunEvent, each facet valid against its schema."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import orjson
import pytest

from runledger.openlineage.event_rendering import render, run_uuid
from runledger.store.openlineage_outbox import Dataset, LineageFacts
from tests.support.openlineage_schema import validate_event

AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
RUN = LineageFacts(
    transition_id=1, run_id="uid-1", step_id="", from_phase=None, to_phase="Pending", at=AT, namespace="team-a",
    run_name="train-x7k2p", uid="uid-1", kfp_run_id="kfp-1", pipeline_name="train", scheduled_workflow=None,
    labels={}, run_parameters={"lr": "0.1", "note": None}, run_message=None, shutdown=None,
)  # fmt: skip
STEP = replace(
    RUN, step_id="train-x7k2p-1", step_name="train-x7k2p.fit", display_name="fit", step_type="Pod", template="fit",
    parameters={"input": {"epochs": "3"}, "output": {"loss": "0.2"}},
    datasets=[Dataset(direction="input", name="data", bucket="ml", key="in/data.csv", size=2048, etag="abc"),
              Dataset(direction="output", name="model", bucket="ml", key="out/model.bin", size=None, etag=None)],
    metrics={"accuracy": 0.93},
)  # fmt: skip


def event(facts: LineageFacts) -> dict:
    document = orjson.loads(render(facts))
    validate_event(document)
    return document


@pytest.mark.parametrize(
    ("from_phase", "to_phase", "expected"),
    [(None, "Pending", "START"), ("Pending", "Running", "RUNNING"), ("Running", "Succeeded", "COMPLETE"),
     ("Running", "Failed", "FAIL"), ("Running", "Error", "FAIL"), (None, "Omitted", "ABORT"), ("Pending", "Skipped", "ABORT")],
)  # fmt: skip
def test_each_phase_change_of_a_run_and_a_step_is_a_valid_event_of_its_type(from_phase, to_phase, expected):
    for facts in (RUN, STEP):
        document = event(replace(facts, from_phase=from_phase, to_phase=to_phase, step_message="OOMKilled"))
        assert document["eventType"] == expected
        assert document["eventTime"] == "2026-03-01T12:00:00+00:00"


def test_a_step_names_its_run_as_parent_and_its_job_by_pipeline_and_template():
    document = event(STEP)
    assert document["job"] == {"namespace": "team-a", "name": "train.fit", "facets": document["job"]["facets"]}
    parent = document["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == run_uuid("uid-1") == event(RUN)["run"]["runId"]
    assert parent["job"] == {"namespace": "team-a", "name": "train", "facets": {}}
    assert document["run"]["runId"] == run_uuid("uid-1", "train-x7k2p-1") != parent["run"]["runId"]


def test_run_ids_are_the_same_uuid_every_time():
    assert run_uuid("uid-1", "s") == run_uuid("uid-1", "s") == "%s" % run_uuid("uid-1", "s")
    assert event(RUN)["run"]["runId"] == event(replace(RUN, to_phase="Running", from_phase="Pending"))["run"]["runId"]


def test_s3_artifacts_are_datasets_with_size_and_etag_and_outputs_on_the_final_event():
    start = event(STEP)
    assert [(d["namespace"], d["name"]) for d in start["inputs"]] == [("s3://ml", "in/data.csv")]
    assert start["inputs"][0]["facets"]["version"]["datasetVersion"] == "abc"
    assert start["inputs"][0]["inputFacets"]["inputStatistics"]["size"] == 2048
    assert start["outputs"] == []
    done = event(replace(STEP, from_phase="Running", to_phase="Succeeded"))
    assert [(d["namespace"], d["name"]) for d in done["outputs"]] == [("s3://ml", "out/model.bin")]


def test_parameters_and_metrics_travel_in_custom_facets_and_a_failure_carries_its_message():
    failed = event(replace(STEP, from_phase="Running", to_phase="Failed", step_message="exit code 137"))
    facets = failed["run"]["facets"]
    assert facets["runledger_parameters"]["parameters"] == {"inputs": {"epochs": "3"}, "outputs": {"loss": "0.2"}}
    assert facets["runledger_kfpMetrics"]["metrics"] == {"accuracy": 0.93}
    assert facets["errorMessage"]["message"] == "exit code 137"
    assert event(RUN)["run"]["facets"]["runledger_parameters"]["parameters"] == {"inputs": {"lr": "0.1"}}  # no value: left out


def test_a_run_stopped_by_shutdown_is_aborted_not_failed():
    assert event(replace(RUN, from_phase="Running", to_phase="Failed", shutdown="Terminate"))["eventType"] == "ABORT"


def test_the_schema_check_refuses_an_event_off_the_spec():
    document = orjson.loads(render(RUN))
    for broken in ({**document, "eventType": "PAUSED"}, {**document, "run": {"runId": "not-a-uuid"}}):
        with pytest.raises(Exception, match="PAUSED|not-a-uuid"):
            validate_event(broken)
