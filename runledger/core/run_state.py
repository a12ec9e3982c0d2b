"""The typed boundary between the agent and the store.

The agent turns Kubernetes objects into a ``RunState``: everything runledger records about one
workflow at one moment (the run row, its steps, the DAG edges between them, parameters and
artifact references). The store persists ``RunState``s and nothing else, so ``metadata`` never
needs to know what a Workflow object looks like. All models are frozen: a state is a snapshot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
ParameterDirection = Literal["argument", "input", "output"]
ArtifactDirection = Literal["input", "output"]

# Argo's node and workflow phases, as Argo spells them. Others are stored as they come (and counted),
# never rejected; "" is a run the controller has not given a phase yet.
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error", "Skipped", "Omitted")
KNOWN_PHASES = frozenset({"", *PHASES})
TERMINAL_PHASES = frozenset({"Succeeded", "Skipped", "Failed", "Error", "Omitted"})
# Argo's spec.shutdown strategies. Others are stored as they come (and counted), never rejected.
SHUTDOWN_STRATEGIES = frozenset({"Terminate", "Stop"})
KNOWN_NODE_TYPES = frozenset(
    {"Pod", "Container", "Steps", "StepGroup", "DAG", "TaskGroup", "Retry", "Skipped", "Suspend", "HTTP", "Plugin"}
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


M = TypeVar("M", bound=BaseModel)
_set_attribute = object.__setattr__
_ALL_FIELDS: dict[type, set[str]] = {}


def trusted(cls: type[M], fields: dict[str, Any]) -> M:
    """A model from values that already have their fields' types, without validating them again.

    For two callers that own their values' types. The agent's translation coerces every value it
    takes from a Kubernetes object to the field's type itself (that is where bad input is caught
    and counted): pydantic's second pass over the same values, for every node of every event, cost
    as much as the translation. The API reads rows whose columns already have the fields' types: a
    page of runs spent more time in validation (or model_construct) than Postgres spent finding it.
    Tests over every fixture check both against validated copies.

    `fields` holds every field of `cls`, in declaration order, and all of them count as set, as
    when each is passed to the constructor. `cls` must be frozen: its instances share one set of names.
    """
    obj = cls.__new__(cls)
    _set_attribute(obj, "__dict__", fields)
    names = _ALL_FIELDS.get(cls)
    if names is None:
        names = _ALL_FIELDS[cls] = set(cls.model_fields)
    _set_attribute(obj, "__pydantic_fields_set__", names)
    _set_attribute(obj, "__pydantic_extra__", None)
    _set_attribute(obj, "__pydantic_private__", None)
    return obj


class WatchEvent(_Frozen):
    """One Kubernetes watch event, as the API server (or `kubectl --output-watch-events`) sends it."""

    type: EventType
    object: dict[str, Any]
    nul_free: bool = Field(
        default=False,
        exclude=True,
        description="Set by the source that decoded the event: its text held no \\u0000 escape, so no string in it "
        "holds a NUL and translation need not look. Never read from the text itself.",
    )


class Parameter(_Frozen):
    step_id: str = Field(description="Node id, or '' for a run-level argument.")
    direction: ParameterDirection
    name: str
    value: str | None = None
    truncated: bool = False


class ArtifactRef(_Frozen):
    step_id: str
    direction: ArtifactDirection
    name: str
    path: str | None = None
    storage: str | None = Field(default=None, description="s3, gcs, http, git, raw, ... or None when not recorded.")
    s3_bucket: str | None = None
    s3_key: str | None = None
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_insecure: bool | None = Field(default=None, description="Plain HTTP to the endpoint; None: not recorded.")
    location_source: Literal["artifact", "workflow-repository", "configured-repository", "unresolved"] = "artifact"
    archive: str | None = Field(default=None, description="'tar' (gzip, Argo's default), 'none', 'zip' or None.")
    optional: bool = False

    @property
    def uri(self) -> str | None:
        """Canonical identity of the object: s3://bucket/key, when both are known."""
        if self.s3_bucket and self.s3_key:
            return f"s3://{self.s3_bucket}/{self.s3_key.lstrip('/')}"
        return None


class Step(_Frozen):
    id: str
    name: str
    display_name: str | None = None
    type: str
    template: str | None = None
    phase: str = ""
    boundary_id: str | None = None
    pod_name: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    message: str | None = None
    host_node: str | None = None
    resources_duration: dict[str, int] = Field(
        default_factory=dict, description="status.nodes[].resourcesDuration: resource -> seconds of it used."
    )


class FailedStep(_Frozen):
    """The step that failed a run (see runledger.agent.failures for how it is chosen)."""

    id: str = Field(description="Node id.")
    name: str = Field(description="Display name.")
    template: str | None = None
    message: str | None = Field(default=None, description="The step's own message, e.g. 'failed with exit code 1'.")
    failure: str = Field(description="Argo's message with node ids replaced by step names, or one saying which step failed.")


class Run(_Frozen):
    id: str
    namespace: str
    name: str
    uid: str | None = None
    kfp_run_id: str | None = None
    pipeline_name: str | None = None
    scheduled_workflow: str | None = None
    phase: str = ""
    message: str | None = None
    shutdown: str | None = Field(
        default=None,
        description="The stop asked for: spec.shutdown, or Terminate when spec.activeDeadlineSeconds is 0 "
        "(how KFP terminates a run); None when none was.",
    )
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, str | None] = Field(default_factory=dict)
    step_counts: dict[str, int] = Field(default_factory=dict)
    nodes_offloaded: bool = False
    resources_duration: dict[str, int] = Field(
        default_factory=dict, description="status.resourcesDuration: resource -> seconds of it used (cpu, memory...)."
    )
    progress: str | None = Field(default=None, description="status.progress: 'done/total' steps, e.g. '3/7'.")
    estimated_duration: int | None = Field(default=None, description="status.estimatedDuration, in seconds.")
    resource_version: str | None = None
    failed_step: FailedStep | None = Field(default=None, description="Set when the run failed and a step shows why.")


class RunState(_Frozen):
    """Everything recorded about one workflow at one moment."""

    run: Run
    steps: tuple[Step, ...] = ()
    edges: tuple[tuple[str, str], ...] = Field(default=(), description="(parent node id, child node id)")
    parameters: tuple[Parameter, ...] = ()
    artifacts: tuple[ArtifactRef, ...] = ()
    deleted: bool = False
    deletion_timestamp: datetime | None = Field(default=None, description="metadata.deletionTimestamp, if set.")
    warnings: tuple[str, ...] = Field(default=(), description="'kind: detail' for oddities met while translating.")


class PodObservation(_Frozen):
    """What a Pod adds to its step that the Workflow status lacks."""

    run_id: str = Field(description="The owning Workflow's uid (ownerReferences), as runs.id.")
    namespace: str
    workflow_name: str
    node_id: str
    pod_name: str
    pod_uid: str | None = None
    phase: str | None = None
    host_node: str | None = None
    image: str | None = Field(default=None, description="Image of the main container.")
    exit_code: int | None = None
    termination_reason: str | None = Field(default=None, description="OOMKilled, Error, Evicted, ...")
    restart_count: int = 0
    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    resource_version: str | None = None
    deleted: bool = False
    warnings: tuple[str, ...] = Field(default=(), description="'kind: detail' for oddities met while translating.")
