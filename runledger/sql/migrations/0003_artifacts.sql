-- Artifacts: one row per object in S3 (identity: its canonical URI s3://bucket/key), however many
-- runs produced or consumed it; artifact_refs are the events linking runs' steps to it.
--
-- Indexing is a durable queue in Postgres: discovering an artifact enqueues it, indexer workers
-- claim entries with FOR UPDATE SKIP LOCKED and a lease (so a crashed worker's claims expire and a
-- restarted agent resumes where it stopped), HEAD the object, and record what they found.

CREATE TABLE artifacts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri           text NOT NULL UNIQUE,
    bucket        text NOT NULL,
    key           text NOT NULL,
    endpoint      text,
    region        text,
    insecure      boolean,
    -- pending: never checked; indexed: HEAD succeeded; missing: 404; forbidden: 403;
    -- failed: transient errors outlasted every attempt.
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'indexed', 'missing', 'forbidden', 'failed')),
    size          bigint,
    etag          text,
    content_type  text,
    last_modified timestamptz,
    content       jsonb,                          -- mlpipeline-ui-metadata: the validated document
    errors        jsonb NOT NULL DEFAULT '[]',    -- [{"reason", ...}]: content that was rejected
    error         text,                           -- why the last check did not index it
    checked_at    timestamptz,                    -- last time a worker finished with it
    first_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX artifacts_by_state ON artifacts (state, id);
CREATE INDEX artifacts_by_uri_prefix ON artifacts (uri text_pattern_ops);

CREATE TABLE artifact_queue (
    artifact_id   bigint PRIMARY KEY REFERENCES artifacts (id) ON DELETE CASCADE,
    due_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    generation    integer NOT NULL DEFAULT 0,   -- bumped by every re-enqueue, even while claimed
    claimed_until timestamptz,
    last_error    text
);

CREATE INDEX artifact_queue_by_due ON artifact_queue (due_at);

ALTER TABLE artifact_refs
    ADD COLUMN s3_insecure boolean,
    ADD COLUMN artifact_id bigint REFERENCES artifacts (id);

CREATE INDEX artifact_refs_by_artifact ON artifact_refs (artifact_id, direction) WHERE artifact_id IS NOT NULL;

-- What a metrics file holds, once per object; runs' metrics are derived from it.
CREATE TABLE artifact_metrics (
    artifact_id bigint NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    name        text NOT NULL,
    value       double precision NOT NULL,
    format      text NOT NULL CHECK (format IN ('RAW', 'PERCENTAGE')),
    PRIMARY KEY (artifact_id, name)
);

-- Metrics of (run, step), as KFP records them: the metrics file a step produced.
CREATE TABLE metrics (
    run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id     text NOT NULL,
    name        text NOT NULL,
    value       double precision NOT NULL,
    format      text NOT NULL,
    artifact_id bigint NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    PRIMARY KEY (run_id, step_id, name)
);

-- One value per (run, metric) for filtering and sorting run listings: when several steps report
-- the same name, the step that finished last wins (the run's final figure).
CREATE TABLE run_metrics (
    run_id  text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   double precision NOT NULL,
    step_id text NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE INDEX run_metrics_by_value ON run_metrics (name, value, run_id);
