-- Live cluster support: where each watch stream may resume, and what pods add to their steps.

-- The newest resourceVersion up to which every event of a stream is persisted. A restarted agent
-- watches from it instead of relisting, as long as the API server still has that revision.
CREATE TABLE watch_checkpoints (
    stream           text PRIMARY KEY,           -- resource:namespace:selector
    resource_version text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per Argo node that ran as a pod. Keyed like steps but without a foreign key: a pod may
-- be seen before its workflow, and is joined to its step whenever both exist.
CREATE TABLE step_pods (
    run_id             text NOT NULL,
    node_id            text NOT NULL,
    namespace          text NOT NULL,
    workflow_name      text NOT NULL,
    pod_name           text NOT NULL,
    pod_uid            text,
    phase              text,
    host_node          text,
    image              text,
    exit_code          integer,
    termination_reason text,
    restart_count      integer NOT NULL DEFAULT 0,
    requests           jsonb NOT NULL DEFAULT '{}',
    limits             jsonb NOT NULL DEFAULT '{}',
    scheduled_at       timestamptz,
    started_at         timestamptz,
    finished_at        timestamptz,
    resource_version   text,
    deleted            boolean NOT NULL DEFAULT false,
    fp                 bigint NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, node_id)
);

-- Reconciliation after a relist marks runs deleted by scope (namespace) and age.
CREATE INDEX runs_live_by_namespace ON runs (namespace, updated_at) WHERE deleted_at IS NULL;
