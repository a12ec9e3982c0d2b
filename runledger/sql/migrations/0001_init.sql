-- Run history: current state per run and per step, plus an append-only log of phase transitions.
--
-- Every mutable row carries `fp`, a 64-bit fingerprint of the columns the agent writes. The writer
-- compares fingerprints instead of rows, so re-applying a state it has already persisted writes
-- nothing, and a restarted agent can reload what it persisted without re-reading whole rows.

CREATE TABLE runs (
    id                 text PRIMARY KEY,          -- metadata.uid, or a UUIDv5 of namespace/name
    namespace          text NOT NULL,
    name               text NOT NULL,
    uid                text,
    kfp_run_id         text,                      -- label pipeline/runid
    pipeline_name      text,
    scheduled_workflow text,                      -- ScheduledWorkflow / CronWorkflow that created the run
    phase              text NOT NULL DEFAULT '',
    message            text,
    created_at         timestamptz,
    started_at         timestamptz,
    finished_at        timestamptz,
    labels             jsonb NOT NULL DEFAULT '{}',
    parameters         jsonb NOT NULL DEFAULT '{}',  -- run arguments as a document (the parameters table indexes them)
    step_counts        jsonb NOT NULL DEFAULT '{}',  -- {phase: number of steps}
    nodes_offloaded    boolean NOT NULL DEFAULT false,
    deleted_at         timestamptz,
    resource_version   text,
    fp                 bigint NOT NULL,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- Sort key of every run listing; creation time is unknown only for objects never admitted.
    sort_at            timestamptz GENERATED ALWAYS AS (coalesce(created_at, first_seen_at)) STORED
);

CREATE INDEX runs_by_created ON runs (sort_at DESC, id DESC);
CREATE INDEX runs_by_namespace ON runs (namespace, sort_at DESC, id DESC);
CREATE INDEX runs_by_phase ON runs (phase, sort_at DESC, id DESC);
CREATE INDEX runs_by_pipeline ON runs (pipeline_name, sort_at DESC, id DESC);
CREATE INDEX runs_by_kfp_run_id ON runs (kfp_run_id) WHERE kfp_run_id IS NOT NULL;

CREATE TABLE steps (
    run_id       text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    id           text NOT NULL,                   -- Argo node id
    name         text NOT NULL,
    display_name text,
    type         text NOT NULL,
    template     text,
    phase        text NOT NULL DEFAULT '',
    boundary_id  text,
    pod_name     text,
    started_at   timestamptz,
    finished_at  timestamptz,
    exit_code    integer,
    message      text,
    host_node    text,
    fp           bigint NOT NULL,
    PRIMARY KEY (run_id, id)
);

CREATE TABLE step_edges (
    run_id    text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    parent_id text NOT NULL,
    child_id  text NOT NULL,
    PRIMARY KEY (run_id, parent_id, child_id)
);

CREATE INDEX step_edges_by_child ON step_edges (run_id, child_id);

CREATE TABLE parameters (
    run_id    text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id   text NOT NULL,                      -- '' for run-level arguments
    direction text NOT NULL CHECK (direction IN ('argument', 'input', 'output')),
    name      text NOT NULL,
    value     text,
    truncated boolean NOT NULL DEFAULT false,
    fp        bigint NOT NULL,
    PRIMARY KEY (run_id, step_id, direction, name)
);

-- "runs whose argument lr is 0.1": equality on (name, value), hashed so long values stay indexable.
CREATE INDEX parameters_by_value ON parameters (name, md5(value), run_id) WHERE step_id = '';

CREATE TABLE artifact_refs (
    run_id          text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id         text NOT NULL,
    direction       text NOT NULL CHECK (direction IN ('input', 'output')),
    name            text NOT NULL,
    path            text,
    storage         text,
    s3_bucket       text,
    s3_key          text,
    s3_endpoint     text,
    s3_region       text,
    location_source text NOT NULL,
    archive         text,
    optional        boolean NOT NULL DEFAULT false,
    uri             text,                          -- s3://bucket/key when both are known
    fp              bigint NOT NULL,
    PRIMARY KEY (run_id, step_id, direction, name)
);

CREATE INDEX artifact_refs_by_uri ON artifact_refs (uri) WHERE uri IS NOT NULL;

-- Append-only. Never updated, never deleted by the agent: a deleted run keeps its history.
CREATE TABLE transitions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text NOT NULL,
    step_id     text NOT NULL DEFAULT '',           -- '' for the run itself
    from_phase  text,                               -- NULL when first seen
    to_phase    text NOT NULL,
    at          timestamptz NOT NULL,                -- when the object says it happened, else when observed
    observed_at timestamptz NOT NULL DEFAULT now(),
    -- Replaying a recording must not duplicate history: a phase is entered at most once per instant.
    UNIQUE (run_id, step_id, to_phase, at)
);

CREATE INDEX transitions_by_run ON transitions (run_id, at, id);
