"""Read-side models: what the repository returns and what the HTTP API serialises.

Frozen pydantic models with timezone-aware timestamps; they are the API's response bodies as-is,
so the JSON a client sees is exactly what these classes declare.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _as_utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


# Rows come from timestamptz columns, which asyncpg returns in UTC; pydantic writes UTC as "...Z"
# (RFC 3339) by itself, so there is no serializer of our own to call per timestamp.
Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


def finite(value: datetime | None) -> datetime | None:
    """A timestamptz as read, or None for ±infinity.

    asyncpg reads ±infinity as the naive datetime.min / datetime.max (every finite timestamptz
    arrives aware, in UTC). Older agents stored Go's zero time as -infinity; shown as a time it
    would be year 1, and converting it to UTC fails, so it reads as what it meant: absent.
    """
    return value if value is None or value.tzinfo is not None else None


class Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FailedStepOut(Out):
    id: str = Field(description="The step's node id (GET /api/v1/runs/{id}/steps lists it).")
    name: str = Field(description="Its display name.")
    template: str | None
    message: str | None = Field(description="The step's own message, e.g. 'failed with exit code 1'.")


class KfpRunOut(Out):
    """What Kubeflow Pipelines' own database says of a run, kept by `runledger import kfp`."""

    kfp_run_id: str
    display_name: str | None = Field(description="The run's name as people gave it in KFP.")
    experiment_id: str | None
    experiment_name: str | None
    pipeline_id: str | None
    pipeline_name: str | None
    storage_state: str | None = Field(description="AVAILABLE, or ARCHIVED once archived in KFP.")
    has_manifest: bool = Field(
        description="false: KFP kept no Workflow for the run, so runledger knows none of its steps."
    )


class RunOut(Out):
    id: str
    namespace: str
    name: str
    uid: str | None
    phase: str = Field(description="Argo workflow phase; '' before the controller picked the run up.")
    message: str | None
    shutdown: str | None = Field(
        description="spec.shutdown: 'Terminate' or 'Stop' once the run was asked to stop (else as written), or"
        " 'Terminate' when spec.activeDeadlineSeconds is 0 (how KFP terminates a run); the phase stays Running until"
        " Argo has stopped it."
    )
    kfp_run_id: str | None
    pipeline_name: str | None
    scheduled_workflow: str | None
    created_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    deleted: bool
    deleted_at: Timestamp | None
    labels: dict[str, str]
    parameters: dict[str, str | None]
    step_counts: dict[str, int]
    nodes_offloaded: bool = Field(description="Steps live in Argo's offload database and are not recorded.")
    duration: float | None = Field(description="finished_at - started_at in seconds; null while running.")
    resources_duration: dict[str, int] = Field(
        description="status.resourcesDuration: resource (cpu, memory, nvidia.com/gpu...) -> seconds of it the run"
        " used, as Argo accounts it; {} when Argo reported none."
    )
    progress: str | None = Field(description="status.progress: done/total steps, e.g. '3/7'.")
    estimated_duration: int | None = Field(description="status.estimatedDuration: Argo's estimate, in seconds.")
    updated_at: Timestamp
    failed_step: FailedStepOut | None = Field(
        description="For a failed run, the step that failed it: the most deeply nested failed pod under the node "
        "Argo's message names, the first to fail (a retried step's last attempt); None when no step shows why."
    )
    failure: str | None = Field(
        description="For a failed run, why, naming steps instead of node ids: Argo's message with each node id "
        "replaced by the step's display name and template (e.g. \"child 'train' (template train-model) failed: "
        "Error (exit code 1)\"), or which step failed when Argo gave no message. `message` keeps Argo's words."
    )
    kfp: KfpRunOut | None = Field(
        description="What KFP's database says of the run (display name, experiment, pipeline, storage state), "
        "once `runledger import kfp` read it; null for a run only watched."
    )


class RunPage(Out):
    runs: list[RunOut]
    next_page_token: str | None
    total: int | None = Field(default=None, description="Runs matching the filters; only with count=true.")


class ParameterOut(Out):
    name: str
    value: str | None
    truncated: bool


class ArtifactRefOut(Out):
    name: str
    path: str | None
    storage: str | None
    uri: str | None
    s3_bucket: str | None
    s3_key: str | None
    s3_endpoint: str | None
    s3_region: str | None
    location_source: str
    archive: str | None
    optional: bool
    artifact_id: int | None = Field(description="The indexed object (GET /api/v1/artifacts/{id}); None: not in S3.")
    state: str | None = Field(description="Index state of the object: pending, indexed, missing, forbidden, failed.")
    size: int | None = Field(description="Object size in bytes, once indexed.")


class StepIO(Out):
    parameters: list[ParameterOut] = Field(default_factory=list)
    artifacts: list[ArtifactRefOut] = Field(default_factory=list)


class PodOut(Out):
    """What the step's pod reported (from the Pod, not the Workflow status)."""

    pod_name: str
    pod_uid: str | None
    phase: str | None
    host_node: str | None
    image: str | None
    exit_code: int | None
    termination_reason: str | None
    restart_count: int
    requests: dict[str, str]
    limits: dict[str, str]
    scheduled_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    deleted: bool


class StepOut(Out):
    id: str
    name: str
    display_name: str | None
    type: str
    template: str | None
    phase: str
    boundary_id: str | None
    pod_name: str | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    exit_code: int | None
    message: str | None
    host_node: str | None
    resources_duration: dict[str, int] = Field(
        description="The node's resourcesDuration: resource -> seconds of it the step used; {} when none reported."
    )
    parents: list[str]
    children: list[str]
    inputs: StepIO
    outputs: StepIO
    pod: PodOut | None = None


class StepList(Out):
    steps: list[StepOut]


class TransitionOut(Out):
    id: int
    step_id: str | None = Field(description="Node id, or null for the run itself.")
    from_phase: str | None
    to_phase: str
    at: Timestamp
    observed_at: Timestamp


class Timeline(Out):
    transitions: list[TransitionOut]


class ErrorBody(Out):
    code: str
    message: str


class ErrorResponse(Out):
    error: ErrorBody


class Health(Out):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class MetricOut(Out):
    step_id: str
    name: str
    value: float
    format: Literal["RAW", "PERCENTAGE"]
    artifact_id: int = Field(description="The mlpipeline-metrics artifact it was read from.")
    is_run_value: bool = Field(description="This step's value is the run's value of the metric (it finished last).")


class MetricList(Out):
    metrics: list[MetricOut]


class RunDetail(RunOut):
    metrics: list[MetricOut] = Field(default_factory=list)


class ArtifactOut(Out):
    id: int
    uri: str = Field(description="Canonical identity: s3://bucket/key.")
    bucket: str
    key: str
    endpoint: str | None
    region: str | None
    state: Literal["pending", "indexed", "missing", "forbidden", "failed"]
    size: int | None
    etag: str | None
    content_type: str | None
    last_modified: Timestamp | None
    error: str | None = Field(description="Why the last check did not index the object.")
    errors: list[dict[str, Any]] = Field(description="Content that was rejected (metric entries, archives).")
    checked_at: Timestamp | None
    first_seen_at: Timestamp


class ArtifactPage(Out):
    artifacts: list[ArtifactOut]
    next_page_token: str | None


class ArtifactEventOut(Out):
    run_id: str
    namespace: str
    run_name: str
    step_id: str
    step_name: str | None
    step_phase: str | None
    name: str = Field(description="The artifact's name in that step's inputs or outputs.")
    path: str | None
    finished_at: Timestamp | None


class ArtifactMetricOut(Out):
    name: str
    value: float
    format: Literal["RAW", "PERCENTAGE"]


class ArtifactDetail(ArtifactOut):
    produced_by: list[ArtifactEventOut]
    consumed_by: list[ArtifactEventOut]
    metrics: list[ArtifactMetricOut] = Field(description="For an mlpipeline-metrics file: what it holds.")
    content: dict[str, Any] | None = Field(description="For mlpipeline-ui-metadata: the validated document.")
    events_truncated: bool = Field(description="More than the returned producers/consumers exist.")


class RunComparison(Out):
    runs: list[RunOut]
    parameters: dict[str, dict[str, str | None]] = Field(description="name -> run id -> value (absent: not set).")
    metrics: dict[str, dict[str, float]] = Field(description="name -> run id -> the run's value.")
    missing: list[str] = Field(description="Requested ids with no run.")


class MetricPoint(Out):
    run_id: str
    run_name: str
    namespace: str
    phase: str
    created_at: Timestamp | None
    finished_at: Timestamp | None
    value: float


class MetricSeries(Out):
    pipeline: str
    metric: str
    points: list[MetricPoint]
    truncated: bool
    resources_duration: dict[str, int] = Field(
        description="resource -> seconds of it used, summed over the pipeline's runs created in the window that the"
        " caller may read (whether or not they report the metric; deleted runs left out)."
    )
    runs: int = Field(description="How many runs resources_duration sums over.")
