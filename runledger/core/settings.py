"""The settings, read once at start-up and passed down, grouped by concern.

Every setting is an environment variable named RUNLEDGER_<GROUP>_<FIELD>: each group is a
pydantic-settings class with its own env prefix (``RUNLEDGER_DATABASE_URL`` is
``settings.database.url``), and the few fields that predate their group's prefix keep their own
name through ``validation_alias`` (``RUNLEDGER_DATA_DIR`` is ``settings.database.data_dir``). A
component is handed the group(s) it reads, not the whole object. ``runledger <command> --help``
prints the groups the command reads and ``runledger settings`` all of them, generated from these
models so the lists can never drift from the code. Nothing below the CLI reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runledger.core.artifact_locations import S3Repository
from runledger.core.shards import Shard


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "runledger"


def _group_config(*, env_prefix: str) -> SettingsConfigDict:
    # validate_by_name: a field renamed by validation_alias is still set by its name in code.
    return SettingsConfigDict(env_prefix=env_prefix, extra="forbid", frozen=True, validate_by_name=True)


class _Group(BaseSettings):
    """One concern's settings; each reads its own variables from the environment when built."""


class DatabaseSettings(_Group):
    """Where runs are stored: runledger's own Postgres."""

    model_config = _group_config(env_prefix="RUNLEDGER_DATABASE_")
    url: str | None = Field(
        default=None,
        description="Postgres DSN (postgresql://user:pass@host:5432/db). Unset: an embedded "
        "Postgres is started with its data under RUNLEDGER_DATA_DIR/postgres.",
    )
    data_dir: Path = Field(
        validation_alias="RUNLEDGER_DATA_DIR",
        default_factory=_default_data_dir,
        description="Directory for local state: the embedded Postgres cluster lives in <data_dir>/postgres.",
    )
    pool_min: int = Field(default=1, ge=0, description="Minimum pooled connections.")
    pool_max: int = Field(default=10, ge=1, description="Maximum pooled connections.")
    statement_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        description="Per-statement timeout in milliseconds (0 = none).",
    )
    replica_urls: str = Field(
        default="",
        description="Comma-separated Postgres DSNs of hot standbys streaming from RUNLEDGER_DATABASE_URL. The API "
        "reads from those within RUNLEDGER_REPLICA_MAX_LAG_SECONDS; writes, migrations and the event "
        "feed's LISTEN stay on the primary. Empty: every read goes to the primary.",
    )
    replica_max_lag_seconds: float = Field(
        validation_alias="RUNLEDGER_REPLICA_MAX_LAG_SECONDS",
        default=5.0,
        gt=0,
        description="Oldest data a read from a standby may see, seconds: a standby further behind the primary "
        "gets no reads until it catches up (the primary answers when none qualifies). Standbys are measured "
        "five times within it, at most once a second.",
    )

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def replicas(self) -> list[str]:
        return [u.strip() for u in self.replica_urls.split(",") if u.strip()]


class ClusterSettings(_Group):
    """What is watched, and how: the cluster, its kubeconfig, the watch streams."""

    model_config = _group_config(env_prefix="RUNLEDGER_")
    source: Literal["auto", "cluster", "replay"] = Field(
        default="auto",
        description="What `runledger run` ingests: a live cluster, replay files, or auto (the cluster when "
        "running in a pod or a kubeconfig exists, else replay).",
    )
    kube_config: Path | None = Field(
        default=None,
        description="Kubeconfig file; unset: in-cluster service account, else KUBECONFIG / ~/.kube/config.",
    )
    kube_context: str | None = Field(default=None, description="Kubeconfig context to use (unset: current).")
    kube_namespaces: str = Field(
        default="",
        description="Comma-separated namespaces to watch (one stream each); empty: cluster-wide.",
    )
    kube_workflow_selector: str | None = Field(default=None, description="Label selector for Workflows to record.")
    kube_watch_pods: bool = Field(default=True, description="Also watch Argo's pods to enrich steps.")
    shard: str | None = Field(
        default=None,
        description="INDEX/COUNT (e.g. 0/3): this agent records only the namespaces whose hash falls to its shard, "
        "so several agent deployments split one cluster; each shard elects its own leader (the Lease name gets "
        "-INDEX-of-COUNT). Unset: one agent records every namespace.",
    )
    watch_page_size: int = Field(default=500, ge=1, description="Objects per page of the initial list.")
    watch_timeout_seconds: int = Field(default=300, ge=1, description="Server-side timeout of one watch request, s.")
    watch_inactivity_seconds: float = Field(
        default=360.0,
        gt=0,
        description="A watch socket silent for this long is reconnected, s.",
    )
    watch_backoff_max_seconds: float = Field(default=30.0, gt=0, description="Longest reconnect backoff, s.")
    watch_checkpoint_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the resume point of each stream is saved, s.",
    )

    @field_validator("shard")
    @classmethod
    def _shard_is_index_of_count(cls, value: str | None) -> str | None:
        if value is not None:
            Shard.parse(value)
        return value

    @property
    def shard_spec(self) -> Shard | None:
        return Shard.parse(self.shard) if self.shard else None

    @property
    def namespaces(self) -> list[str]:
        return [n.strip() for n in self.kube_namespaces.split(",") if n.strip()]


class ArgoSettings(_Group):
    """How Argo records workflows: its pod names and its persistence database."""

    model_config = _group_config(env_prefix="RUNLEDGER_ARGO_")
    pod_name_format: Literal["v1", "v2"] = Field(
        default="v2",
        description="Pod name format assumed for workflows without the workflows.argoproj.io/pod-name-format "
        "annotation (Argo's POD_NAMES default is v2).",
    )
    database_url: str | None = Field(
        default=None,
        description="Argo's persistence database (postgresql://… or mysql://…), read for the node status of "
        "workflows whose nodes Argo offloaded (status.offloadNodeStatusVersion). Unset: such runs are recorded "
        "without steps, flagged nodes_offloaded.",
    )
    database_offload_table: str = Field(
        default="argo_workflows",
        description="Argo's offload table (its persistence nodeStatusOffLoad.tableName).",
    )
    database_cluster_name: str = Field(
        default="default",
        description="Argo's persistence clusterName: the rows of Argo's database that are read.",
    )
    database_offload_wait_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long an offloaded node status not yet visible in Argo's database is retried (with "
        "backoff) before that workflow event is dropped and counted (offload_missing), s.",
    )


class IngestSettings(_Group):
    """The write path: coalescing queue, writers, backpressure."""

    model_config = _group_config(env_prefix="RUNLEDGER_INGEST_")
    workers: int = Field(
        default=4,
        ge=1,
        description="Writers applying coalesced run states in parallel (one DB transaction each).",
    )
    batch_runs: int = Field(
        default=256,
        ge=1,
        description="Most runs one writer commits in a single transaction (group commit).",
    )
    max_pending_runs: int = Field(
        default=20_000,
        ge=1,
        description="Most runs waiting to be written; intake blocks beyond it (backpressure). One pending state per run.",
    )
    max_pending_steps: int = Field(
        default=100_000,
        ge=1,
        description="Most steps held by the run states waiting or being written; intake waits beyond it "
        "(backpressure by size, as large runs weigh more). A single larger run is still taken.",
    )
    max_pending_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="Most memory, in bytes (estimated from their rows and parameter values), held by the run "
        "states waiting or being written; intake waits beyond it. Bounds memory where the step bound alone does "
        "not: a translated run of ten steps, with its parameters and artifacts, takes some 55 KB. A single larger "
        "run is still taken.",
    )
    node_memo_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Most memory, in bytes (estimated as for RUNLEDGER_INGEST_MAX_PENDING_BYTES), kept by running "
        "workflows of 50 nodes or more, whose translated nodes are kept so that an event translates only the "
        "nodes it changed; a workflow that does not fit is translated whole on every event. Some 1.5 KB per "
        "node; 0 turns it off.",
    )
    max_pending_phase_changes: int = Field(
        default=1_000,
        ge=0,
        description="Most phase changes a waiting run keeps from the states a newer one replaced, so that "
        "its timeline still shows them; past it the oldest are dropped and counted. Each counts as a step "
        "against RUNLEDGER_INGEST_MAX_PENDING_STEPS.",
    )
    fingerprint_cache_runs: int = Field(
        default=100_000,
        ge=1,
        description="Runs whose persisted fingerprints are kept in memory; misses reload them from Postgres.",
    )
    max_value_bytes: int = Field(
        default=256 * 1024,
        ge=64,
        description="Longest parameter value or message stored, in bytes; longer ones are truncated and flagged.",
    )
    retry_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between database retries while Postgres is unreachable, seconds.",
    )
    shutdown_grace_seconds: float = Field(
        default=20.0,
        gt=0,
        description="On SIGTERM/SIGINT, how long queued states get to reach Postgres before the writers stop, s.",
    )


class ReplaySettings(_Group):
    """What `runledger run` replays without a cluster."""

    model_config = _group_config(env_prefix="RUNLEDGER_REPLAY_")
    files: str = Field(
        default="",
        description="Comma-separated files `runledger run` ingests when no cluster is configured. "
        "Empty: the bundled demo recording.",
    )

    @property
    def paths(self) -> list[Path]:
        return [Path(p.strip()) for p in self.files.split(",") if p.strip()]


class ArtifactsSettings(_Group):
    """The artifact indexer: S3 repositories, credentials, limits."""

    model_config = _group_config(env_prefix="RUNLEDGER_ARTIFACTS_")
    index: bool = Field(
        default=True,
        description="Index artifacts in S3 (HEAD each object; read KFP metrics and UI metadata).",
    )
    repository: S3Repository | None = Field(
        default=None,
        description='Default artifact repository as JSON, e.g. {"bucket": "mlpipeline", "endpoint": '
        '"minio-service.kubeflow:9000", "insecure": true}. Unset: the workflow-controller-configmap\'s, '
        "when watching a cluster.",
    )
    repositories: dict[str, S3Repository] = Field(
        default_factory=dict,
        description='Named repositories as JSON, keyed "configmap/key" or "namespace/configmap/key" as '
        "status.artifactRepositoryRef names them. Cluster ConfigMaps are read too.",
    )
    endpoint_map: dict[str, str] = Field(
        default_factory=dict,
        description='Endpoint overrides as JSON, {"minio-service.kubeflow:9000": "http://127.0.0.1:9000"}: '
        "where to reach an endpoint recorded in workflows (port-forwards, out-of-cluster agents).",
    )
    access_key_id: SecretStr | None = Field(
        default=None,
        description="S3 access key id (unset: the AWS default credential chain).",
    )
    secret_access_key: SecretStr | None = Field(default=None, description="S3 secret access key.")
    credentials: SecretStr | None = Field(
        default=None,
        description="Per-repository S3 credentials as JSON, keyed by an endpoint as workflows record it "
        '("minio.team-a:9000"; "s3.amazonaws.com" for AWS) or by "endpoint/bucket": {"minio.team-a:9000": '
        '{"access_key_id": "...", "secret_access_key": "...", "session_token": "..." (optional)}}. The most '
        "specific entry wins; objects no entry matches use RUNLEDGER_ARTIFACTS_ACCESS_KEY_ID / _SECRET_ACCESS_KEY "
        "(or the default chain).",
    )
    credentials_file: Path | None = Field(
        default=None,
        description="A file holding the per-repository credentials' JSON (a mounted Secret), instead of the variable.",
    )
    controller_configmap: str = Field(
        default="workflow-controller-configmap",
        description="Argo's controller ConfigMap (default repository).",
    )
    controller_namespace: str = Field(
        default="argo",
        description="Namespace of Argo's controller ConfigMap (kubeflow in a KFP install).",
    )
    workers: int = Field(default=32, ge=1, description="Concurrent S3 requests of the indexer.")
    claim_batch: int = Field(default=64, ge=1, description="Queue entries one claim takes.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of one S3 request, s.")
    retry_max_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Longest wait before retrying an object after a 5xx or timeout, s.",
    )
    max_attempts: int = Field(
        default=10,
        ge=1,
        description="Attempts before an object that keeps failing transiently is marked failed.",
    )
    max_object_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Largest metrics / UI-metadata file read, bytes (KFP's limit: 1 MiB).",
    )
    max_metrics: int = Field(
        default=50, ge=1,
        description="Most metrics kept per run, across its steps' metrics files (KFP: 50); the rest are recorded as errors.",
    )  # fmt: skip


class ApiSettings(_Group):
    """The HTTP API: listening, limits, what one request may read."""

    model_config = _group_config(env_prefix="RUNLEDGER_API_")
    host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port the HTTP API listens on.")
    max_page_size: int = Field(default=500, ge=1, description="Largest page a list endpoint returns.")
    statement_timeout_ms: int = Field(
        default=5_000,
        ge=0,
        description="Longest one API request's query may run, milliseconds (0 = none).",
    )
    max_connections: int = Field(
        default=4096,
        ge=1,
        description="Most HTTP connections open at once, lowered to fit the open-file limit. Past it the connection "
        "idle longest is closed; when all are busy the new one gets a 503.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest a client may take to send a request's line and headers, s.",
    )
    keepalive_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An idle keep-alive connection is closed after this long, s.",
    )
    log_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1,
        description="Most bytes of a step's log one request sends, bytes; a longer log is cut and says so "
        "(read the rest with Range or offset).",
    )
    preview_max_bytes: int = Field(
        default=64 * 1024,
        ge=1,
        description="Most bytes of an artifact read from S3 for its preview, bytes.",
    )


class EventsSettings(_Group):
    """The API's event streams."""

    model_config = _group_config(env_prefix="RUNLEDGER_EVENTS_")
    heartbeat_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A comment line is sent on a quiet event stream this often, s (keeps proxies open).",
    )
    queue_size: int = Field(
        default=2000,
        ge=1,
        description="Events buffered per event-stream client; a client further behind is dropped.",
    )
    max_subscribers: int = Field(default=1000, ge=1, description="Most event streams open at once per replica.")
    stream_max_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Longest an event stream stays open, s; the client reconnects with Last-Event-ID, losing "
        "nothing, and is authorized again (new namespaces, revoked rights, expired tokens).",
    )
    batch_rows: int = Field(
        default=500,
        ge=1,
        description="Transitions read per query by the feed (at most RUNLEDGER_EVENTS_QUEUE_SIZE).",
    )


class AuthSettings(_Group):
    """Who may read what through the API, and what /metrics tells anyone."""

    model_config = _group_config(env_prefix="RUNLEDGER_AUTH_")
    mode: Literal["none", "static", "kubernetes"] = Field(
        default="none",
        description="How API callers are identified: none (everyone reads everything), static (bearer tokens "
        "from RUNLEDGER_AUTH_STATIC_TOKENS), kubernetes (bearer tokens checked with TokenReview, namespaces "
        "with SubjectAccessReview: get on workflows.argoproj.io). Health, /metrics and /openapi.json stay open.",
    )
    static_tokens: SecretStr | None = Field(
        default=None,
        description='Static tokens as JSON: [{"token": "...", "user": "alice", "namespaces": ["team-a"]}]; '
        '"*" grants every namespace.',
    )
    static_tokens_file: Path | None = Field(
        default=None,
        description="A file holding the static tokens' JSON (a mounted Secret), instead of the variable.",
    )
    token_audiences: str = Field(
        default="",
        description="Comma-separated audiences a token must be valid for (TokenReview); empty: the API server's.",
    )
    cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a token review or an access review is reused, s.",
    )
    cache_entries: int = Field(default=10_000, ge=1, description="Most reviews kept in each cache.")
    metrics_per_namespace: bool | None = Field(
        validation_alias="RUNLEDGER_METRICS_PER_NAMESPACE",
        default=None,
        description="Label /metrics' runs by namespace and step durations by template. /metrics needs no token, so "
        "these labels tell anyone who can reach it every tenant's namespaces and templates. Unset: on with "
        "RUNLEDGER_AUTH_MODE=none, off otherwise (runs by phase, one step-duration histogram).",
    )

    @property
    def audiences(self) -> list[str]:
        return [a.strip() for a in self.token_audiences.split(",") if a.strip()]

    @property
    def metrics_by_namespace(self) -> bool:
        return self.metrics_per_namespace if self.metrics_per_namespace is not None else self.mode == "none"


class LeaderSettings(_Group):
    """Leader election among replicas (a coordination.k8s.io Lease)."""

    model_config = _group_config(env_prefix="RUNLEDGER_LEADER_")
    election: bool = Field(default=False, description="Elect one writer among replicas with a Lease.")
    lease_name: str = Field(default="runledger-agent", description="Name of the coordination.k8s.io Lease.")
    lease_namespace: str = Field(default="default", description="Namespace of the Lease.")
    identity: str | None = Field(default=None, description="This replica's identity (unset: hostname + pid).")
    lease_seconds: float = Field(default=15.0, gt=0, description="Lease duration, s.")
    renew_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A leader that cannot renew within this stops writing, s.",
    )
    retry_seconds: float = Field(default=2.0, gt=0, description="Interval between acquire/renew attempts, s.")


class OpenLineageSettings(_Group):
    """The OpenLineage export of every run's and step's phase changes."""

    model_config = _group_config(env_prefix="RUNLEDGER_OPENLINEAGE_")

    url: str | None = Field(
        default=None,
        description="Send every run's and step's phase changes as OpenLineage run events to this HTTP endpoint "
        "(Marquez: http://marquez:5000/api/v1/lineage). Unset, with RUNLEDGER_OPENLINEAGE_FILE unset too: no export.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Sent as 'Authorization: Bearer <key>' to RUNLEDGER_OPENLINEAGE_URL."
    )
    file: Path | None = Field(
        default=None, description="Append the OpenLineage events to this file instead, one JSON document a line."
    )

    @property
    def export(self) -> bool:
        """Whether phase changes are queued and sent as OpenLineage events."""
        return self.url is not None or self.file is not None


class CostSettings(_Group):
    """Unit prices for the estimated cost in GET /api/v1/stats/pipelines; unset: no cost is given."""

    model_config = _group_config(env_prefix="RUNLEDGER_COST_")

    cpu_hour: float | None = Field(
        default=None, ge=0, description="Price of one CPU core for an hour (unset: costs leave CPU out)."
    )
    memory_gib_hour: float | None = Field(
        default=None, ge=0, description="Price of one GiB of memory for an hour (unset: costs leave memory out)."
    )
    gpu_hour: float | None = Field(default=None, ge=0, description="Price of one GPU for an hour (unset: costs leave GPUs out).")


class LogSettings(_Group):
    """Logging and progress lines."""

    model_config = _group_config(env_prefix="RUNLEDGER_LOG_")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    progress_interval_seconds: float = Field(
        validation_alias="RUNLEDGER_PROGRESS_INTERVAL_SECONDS",
        default=10.0,
        gt=0,
        description="Seconds between progress lines in the log of long work (a replay, an import, migrations) "
        "when stderr is not a terminal.",
    )


class Settings(BaseModel):
    """Every group. `Settings()` reads the environment (each group its own variables);
    `Settings(database=DatabaseSettings(url=...))` sets one group and reads the others."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    argo: ArgoSettings = Field(default_factory=ArgoSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    artifacts: ArtifactsSettings = Field(default_factory=ArtifactsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    leader: LeaderSettings = Field(default_factory=LeaderSettings)
    openlineage: OpenLineageSettings = Field(default_factory=OpenLineageSettings)
    cost: CostSettings = Field(default_factory=CostSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    def updated(self, **groups: dict[str, Any]) -> Settings:
        """A copy with some fields of some groups replaced and validated:
        `settings.updated(database={"url": dsn}, api={"port": 0})`. The environment is not read again."""
        replaced = {}
        for name, values in groups.items():
            group = getattr(self, name)
            replaced[name] = type(group).model_validate({**group.model_dump(), **values})
        return self.model_copy(update=replaced)
