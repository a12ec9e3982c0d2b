"""The API's response bodies as typed models, named as the OpenAPI document's components.

Written from ``docs/openapi.json`` (served at ``/openapi.json``) rather than imported from the server's
own read models: the client talks to a runledger of whatever version over HTTP and must not pull the
store in with it. ``tests/unit/test_the_client_agrees_with_the_openapi_document.py`` holds each model's
fields and types equal to the component of the same name, so the two cannot drift apart silently.

The models are standard-library dataclasses, read from JSON by ``decoding.read``, frozen, compared by
value. A query command is a process that lives a fraction of a second, and what it imports is most of
its time: pydantic and building its models cost more than the rest of the command, and so would the
methods ``@dataclass`` writes for each class (it compiles them at import). So ``@dataclass`` records
only the fields here, and the few methods every model needs are written once, in ``_Body``. Unknown
fields are ignored rather than refused, so a newer server that adds a field still reads.
"""

# No `from __future__ import annotations`: the field types are kept as objects, so that decoding reads
# them without evaluating strings.
import dataclasses
from datetime import datetime
from typing import Any, ClassVar, Literal

field = dataclasses.field
model = dataclasses.dataclass(init=False, repr=False, eq=False)


class _Body:
    """What a model does: built from keyword arguments, frozen, equal to a model of equal fields."""

    # True: the model reads only some of the component's fields (each one as the document describes it).
    partial: ClassVar[bool] = False
    __fields: ClassVar[tuple[tuple[str, Any, Any], ...]]

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        fields = cls.__dict__.get("_Body__fields")
        if fields is None:
            fields = tuple((f.name, f.default, f.default_factory) for f in dataclasses.fields(cls))
            cls._Body__fields = fields  # type: ignore[attr-defined]
        unknown = values.keys() - {name for name, _, _ in fields}
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        state = self.__dict__  # in the fields' order, as they print and serialise
        for name, default, factory in fields:
            if name in values:
                state[name] = values[name]
            elif default is not dataclasses.MISSING:
                state[name] = default
            elif factory is not dataclasses.MISSING:
                state[name] = factory()
            else:
                raise TypeError(f"{cls.__name__} needs the field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


@model
class MetricOut(_Body):
    step_id: str
    name: str
    value: float
    format: Literal["RAW", "PERCENTAGE"]
    artifact_id: int
    is_run_value: bool


@model
class FailedStepOut(_Body):
    """The step that failed a run."""

    id: str
    name: str
    template: str | None
    message: str | None


@model
class KfpRunOut(_Body):
    """What Kubeflow Pipelines' own database says of a run, kept by ``runledger import kfp``."""

    kfp_run_id: str
    display_name: str | None
    experiment_id: str | None
    experiment_name: str | None
    pipeline_id: str | None
    pipeline_name: str | None
    storage_state: str | None
    has_manifest: bool


@model
class RunOut(_Body):
    """One run (a Workflow), as listed."""

    id: str
    namespace: str
    name: str
    uid: str | None
    phase: str
    message: str | None
    shutdown: str | None
    kfp_run_id: str | None
    pipeline_name: str | None
    scheduled_workflow: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    deleted: bool
    deleted_at: datetime | None
    labels: dict[str, str]
    parameters: dict[str, str | None]
    step_counts: dict[str, int]
    nodes_offloaded: bool
    updated_at: datetime
    failed_step: FailedStepOut | None
    failure: str | None
    resources_duration: dict[str, int]
    progress: str | None
    estimated_duration: int | None
    duration: float | None
    kfp: KfpRunOut | None


@model
class RunDetail(RunOut):
    """One run with the metrics its steps reported."""

    metrics: list[MetricOut] = field(default_factory=list)


@model
class RunPage(_Body):
    runs: list[RunOut]
    next_page_token: str | None
    total: int | None = None


@model
class ParameterOut(_Body):
    name: str
    value: str | None
    truncated: bool


@model
class ArtifactRefOut(_Body):
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
    artifact_id: int | None
    state: str | None
    size: int | None


@model
class StepIO(_Body):
    parameters: list[ParameterOut] = field(default_factory=list)
    artifacts: list[ArtifactRefOut] = field(default_factory=list)


@model
class PodOut(_Body):
    """What the step's pod reported."""

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
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    deleted: bool


@model
class StepOut(_Body):
    """One node of a run's workflow: a pod, a DAG, a step group, a retry…"""

    id: str
    name: str
    display_name: str | None
    type: str
    template: str | None
    phase: str
    boundary_id: str | None
    pod_name: str | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    message: str | None
    host_node: str | None
    parents: list[str]
    children: list[str]
    inputs: StepIO
    outputs: StepIO
    resources_duration: dict[str, int]
    pod: PodOut | None = None


@model
class StepList(_Body):
    steps: list[StepOut]


@model
class RunComparison(_Body):
    runs: list[RunOut]
    parameters: dict[str, dict[str, str | None]]
    metrics: dict[str, dict[str, float]]
    missing: list[str]


@model
class ArtifactOut(_Body):
    id: int
    uri: str
    bucket: str
    key: str
    endpoint: str | None
    region: str | None
    state: Literal["pending", "indexed", "missing", "forbidden", "failed"]
    size: int | None
    etag: str | None
    content_type: str | None
    last_modified: datetime | None
    error: str | None
    errors: list[dict[str, Any]]
    checked_at: datetime | None
    first_seen_at: datetime


@model
class ArtifactPage(_Body):
    artifacts: list[ArtifactOut]
    next_page_token: str | None


@model
class ArtifactEventOut(_Body):
    run_id: str
    namespace: str
    run_name: str
    step_id: str
    step_name: str | None
    step_phase: str | None
    name: str
    path: str | None
    finished_at: datetime | None


@model
class ArtifactMetricOut(_Body):
    name: str
    value: float
    format: Literal["RAW", "PERCENTAGE"]


@model
class ArtifactDetail(ArtifactOut):
    produced_by: list[ArtifactEventOut]
    consumed_by: list[ArtifactEventOut]
    metrics: list[ArtifactMetricOut]
    content: dict[str, Any] | None
    events_truncated: bool


@model
class StepNode(_Body):
    id: str
    kind: Literal["step"] = "step"
    root: bool
    depth: int
    redacted: Literal[False] = False
    run_id: str
    node_id: str
    name: str
    display_name: str | None
    type: str | None
    template: str | None
    phase: str
    started_at: datetime | None
    finished_at: datetime | None
    namespace: str
    run_name: str
    pipeline_name: str | None


@model
class ArtifactNode(_Body):
    id: str
    kind: Literal["artifact"] = "artifact"
    root: bool
    depth: int
    redacted: Literal[False] = False
    artifact_id: int
    uri: str
    state: str
    size: int | None
    names: list[str]


@model
class RedactedNode(_Body):
    """A node of a namespace the caller cannot read."""

    id: str
    kind: Literal["step", "artifact"]
    root: bool
    depth: int
    redacted: Literal[True] = True


@model
class LineageEdge(_Body):
    source: str
    target: str
    kind: Literal["produced", "consumed", "parameter"]
    names: list[str]


@model
class LineageGraph(_Body):
    root: str
    direction: Literal["upstream", "downstream", "both"]
    depth: int
    nodes: list[StepNode | ArtifactNode | RedactedNode]
    edges: list[LineageEdge]
    truncated: bool
    truncated_at_depth: int | None = None


@model
class TransitionEvent(_Body):
    """One phase change of a run (``step_id`` None) or of a step, from the live event feed."""

    id: int
    run_id: str
    namespace: str
    workflow: str
    step_id: str | None
    step_name: str | None
    from_phase: str | None
    to_phase: str
    at: datetime
    observed_at: datetime


@model
class ErrorBody(_Body):
    code: str
    message: str


@model
class ErrorResponse(_Body):
    error: ErrorBody


@model
class V2Run(_Body):
    """The fields the client reads of Kubeflow Pipelines' v2beta1 run (to find a run by namespace and name)."""

    partial: ClassVar[bool] = True
    run_id: str


@model
class V2ListRunsResponse(_Body):
    runs: list[V2Run] | None = None
    total_size: int | None = None
    next_page_token: str | None = None


@model
class UnitPrices(_Body):
    """The unit prices a cost estimate is worked out with."""

    cpu_hour: float | None = None
    memory_gib_hour: float | None = None
    gpu_hour: float | None = None


@model
class DurationStats(_Body):
    count: int
    mean_seconds: float | None
    p50_seconds: float
    p95_seconds: float


@model
class FailureCause(_Body):
    cause: str
    detail: str | None
    count: int


@model
class ResourceUse(_Body):
    reported: int
    cpu_seconds: int
    memory_gib_seconds: float
    gpu_seconds: int


@model
class CostEstimate(_Body):
    cpu: float | None
    memory: float | None
    gpu: float | None
    total: float


@model
class GroupStats(_Body):
    """A pipeline's (or a template's) figures; a figure that is None has its reason in `missing`."""

    name: str | None
    count: int
    succeeded: int
    failed: int
    other: int
    success_rate: float | None
    failures: list[FailureCause]
    duration: DurationStats | None
    queue: DurationStats | None
    step_duration: DurationStats | None = None
    step_queue: DurationStats | None = None
    retries: int
    flaky: int
    resources: ResourceUse | None
    cost: CostEstimate | None
    missing: dict[str, str]


@model
class PipelineStats(_Body):
    """GET /api/v1/stats/pipelines (and .../{pipeline}/templates)."""

    since: datetime
    until: datetime
    namespaces: list[str] | None
    pipeline: str | None
    percentile_relative_error: float
    prices: UnitPrices | None
    groups: list[GroupStats]
