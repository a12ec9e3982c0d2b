"""OpenLineage run events from stored phase changes: one event per transition of a run or a step.

Built with openlineage-python's model classes and serialised with its Serde. The mapping:

- a run is an OpenLineage job run: job namespace = the Kubernetes namespace, job name = the pipeline
  (KFP's pipeline name, else the WorkflowTemplate or generateName runledger records as pipeline_name,
  else the workflow's name); a step is a job run of its own, named ``<pipeline>.<template>``, with a
  ``parent`` facet pointing at its run's;
- run ids are UUIDv5s of the run's (and step's) ids: the same run always gets the same runId, from
  the live path, a backfill or another replica alike;
- the first phase seen is START, a later non-final one RUNNING; Succeeded is COMPLETE, Failed and Error
  FAIL (with the step's or run's message as ``errorMessage``), Skipped, Omitted and a run stopped by
  shutdown ABORT; eventTime is when the object says the phase was entered;
- a step's S3 artifacts are its input and output datasets (namespace ``s3://bucket``, name the key),
  with the ETag as the dataset version and the size as input/output statistics once indexed; outputs
  are named on the step's final event, when they exist;
- parameters and KFP metrics travel in custom facets (``runledger_parameters``,
  ``runledger_kfpMetrics``, ``runledger_workflow``), whose schemas are in ``facets/``.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import attr
import orjson
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
)
from openlineage.client.serde import Serde

from runledger.core.run_state import TERMINAL_PHASES
from runledger.store.openlineage_outbox import LineageFacts

PRODUCER = "https://github.com/runledger/runledger"
FACETS_URL = f"{PRODUCER}/blob/main/runledger/openlineage/facets"
# Fixed for good: every runId ever sent derives from it.
RUN_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, f"{PRODUCER}/openlineage/run")

_FINAL = {"Succeeded": RunState.COMPLETE, "Failed": RunState.FAIL, "Error": RunState.FAIL,
          "Skipped": RunState.ABORT, "Omitted": RunState.ABORT}  # fmt: skip


def run_uuid(run_id: str, step_id: str = "") -> str:
    """The OpenLineage runId of a run (`step_id` '') or of one of its steps."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{run_id}/{step_id}" if step_id else run_id))


def event_type(facts: LineageFacts) -> RunState:
    if facts.to_phase in TERMINAL_PHASES:
        if not facts.step_id and facts.shutdown and facts.to_phase in ("Failed", "Error"):
            return RunState.ABORT  # stopped or terminated on purpose, not a failure of the work
        return _FINAL[facts.to_phase]
    return RunState.START if facts.from_phase is None else RunState.RUNNING


def job_name(facts: LineageFacts) -> str:
    pipeline = facts.pipeline_name or facts.run_name
    if not facts.step_id:
        return pipeline
    return f"{pipeline}.{facts.template or facts.display_name or facts.step_name or facts.step_id}"


def render(facts: LineageFacts) -> bytes:
    """The event of one transition, as the JSON document sent."""
    kind = event_type(facts)
    final = facts.to_phase in TERMINAL_PHASES
    event = RunEvent(
        eventType=kind,
        eventTime=facts.at.isoformat(),
        run=Run(runId=run_uuid(facts.run_id, facts.step_id), facets=_run_facets(facts, kind)),
        job=Job(namespace=facts.namespace, name=job_name(facts), facets={"jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="ARGO_WORKFLOWS", jobType="TASK" if facts.step_id else "WORKFLOW",
            producer=PRODUCER,
        )}),  # fmt: skip
        inputs=[_input(d) for d in facts.datasets if d.direction == "input"],
        outputs=[_output(d) for d in facts.datasets if d.direction == "output"] if final else [],
        producer=PRODUCER,
    )
    return orjson.dumps(Serde.to_dict(event))


def _run_facets(facts: LineageFacts, kind: RunState) -> dict[str, RunFacet]:
    facets: dict[str, RunFacet] = {"runledger_workflow": WorkflowRunFacet(
        namespace=facts.namespace, name=facts.run_name, runId=facts.run_id, uid=facts.uid, kfpRunId=facts.kfp_run_id,
        stepId=facts.step_id or None, stepName=facts.step_name, stepType=facts.step_type, phase=facts.to_phase,
        exitCode=facts.exit_code, producer=PRODUCER,
    )}  # fmt: skip
    if facts.step_id:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_uuid(facts.run_id)),
            job=parent_run.Job(namespace=facts.namespace, name=facts.pipeline_name or facts.run_name),
            producer=PRODUCER,
        )
    parameters = _parameters(facts)
    if parameters:
        facets["runledger_parameters"] = ParametersRunFacet(parameters=parameters, producer=PRODUCER)
    if facts.metrics and facts.to_phase in TERMINAL_PHASES:
        facets["runledger_kfpMetrics"] = KfpMetricsRunFacet(metrics=dict(facts.metrics), producer=PRODUCER)
    if kind == RunState.FAIL:
        message = (facts.step_message if facts.step_id else facts.run_message) or f"{facts.to_phase}"
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=message, programmingLanguage="unknown", producer=PRODUCER
        )
    return facets


def _parameters(facts: LineageFacts) -> dict[str, Any]:
    if not facts.step_id:
        return {"inputs": dict(facts.run_parameters)} if facts.run_parameters else {}
    return {direction: dict(values) for direction, values in (("inputs", facts.parameters.get("input")),
                                                               ("outputs", facts.parameters.get("output"))) if values}  # fmt: skip


def _dataset_facets(etag: str | None) -> dict[str, Any]:
    if etag is None:
        return {}
    return {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=etag, producer=PRODUCER)}


def _input(d) -> InputDataset:
    statistics = {} if d.size is None else {"inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
        size=d.size, fileCount=1, producer=PRODUCER)}  # fmt: skip
    return InputDataset(namespace=f"s3://{d.bucket}", name=d.key, facets=_dataset_facets(d.etag),
                        inputFacets=statistics)  # fmt: skip


def _output(d) -> OutputDataset:
    statistics = {} if d.size is None else {"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        size=d.size, fileCount=1, producer=PRODUCER)}  # fmt: skip
    return OutputDataset(namespace=f"s3://{d.bucket}", name=d.key, facets=_dataset_facets(d.etag),
                         outputFacets=statistics)  # fmt: skip


# --- custom facets: their schemas are facets/<Name>.json ----------------------------------------


def _schema(name: str) -> str:
    return f"{FACETS_URL}/{name}.json#/$defs/{name}"


@attr.define
class WorkflowRunFacet(RunFacet):
    """Which Argo Workflow (and node) the run is, as runledger stores it."""

    namespace: str
    name: str
    runId: str  # noqa: N815 - runledger's run id (the workflow's uid)
    phase: str
    uid: str | None = attr.field(default=None)
    kfpRunId: str | None = attr.field(default=None)  # noqa: N815
    stepId: str | None = attr.field(default=None)  # noqa: N815
    stepName: str | None = attr.field(default=None)  # noqa: N815
    stepType: str | None = attr.field(default=None)  # noqa: N815
    exitCode: int | None = attr.field(default=None)  # noqa: N815
    _additional_skip_redact: ClassVar[list[str]] = ["namespace", "name", "runId", "phase"]

    @staticmethod
    def _get_schema() -> str:
        return _schema("RunledgerWorkflowRunFacet")


@attr.define
class ParametersRunFacet(RunFacet):
    """A run's arguments, or a step's input and output parameters: {"inputs": {name: value}, "outputs": ...}."""

    parameters: dict[str, dict[str, str | None]]

    @staticmethod
    def _get_schema() -> str:
        return _schema("RunledgerParametersRunFacet")


@attr.define
class KfpMetricsRunFacet(RunFacet):
    """The KFP metrics (mlpipeline-metrics) the run or step reported, as indexed: {name: value}."""

    metrics: dict[str, float]

    @staticmethod
    def _get_schema() -> str:
        return _schema("RunledgerKfpMetricsRunFacet")
