-- Read side. Run listings are composed in runledger/store/run_listing.py around the keyset blocks
-- of listing.sql (only the joins and the WHERE clause vary); everything else is a fixed statement.

-- name: run_columns
id, namespace, name, uid, kfp_run_id, pipeline_name, scheduled_workflow, phase, message, shutdown, created_at,
started_at, finished_at, labels, parameters, step_counts, nodes_offloaded, deleted_at, resource_version,
updated_at, sort_at, first_seen_at, failed_step, duration_seconds, resources_duration, progress, estimated_duration,
{kfp_details} WHERE k.run_id = runs.id)::jsonb AS kfp

-- name: run_columns_r
r.id, r.namespace, r.name, r.uid, r.kfp_run_id, r.pipeline_name, r.scheduled_workflow, r.phase, r.message,
r.shutdown, r.created_at, r.started_at, r.finished_at, r.labels, r.parameters, r.step_counts, r.nodes_offloaded,
r.deleted_at, r.resource_version, r.updated_at, r.sort_at, r.first_seen_at, r.failed_step, r.duration_seconds,
r.resources_duration, r.progress, r.estimated_duration, {kfp_details} WHERE k.run_id = r.id)::jsonb AS kfp

-- name: kfp_details
-- What `runledger import kfp` kept of the run from KFP's database (a run only watched has none): one
-- primary-key lookup per row of a page, as a subquery evaluated for the rows the page returns.
-- json, not jsonb: its text keeps KfpRunOut's field order (run_documents_r sends it as it is).
(SELECT json_build_object('kfp_run_id', k.kfp_run_id, 'display_name', k.display_name,
        'experiment_id', k.experiment_id, 'experiment_name', k.experiment_name, 'pipeline_id', k.pipeline_id,
        'pipeline_name', k.pipeline_name, 'storage_state', k.storage_state, 'has_manifest', k.has_manifest)
 FROM kfp_run_details k

-- name: run_documents_r
-- A run as the API answers it (RunOut: these names, in its field order), for listings answered
-- without a model per row: ±infinity times as NULL, the JSON columns as their text (sent as they
-- are), and the derived fields (deleted, duration, failed_step, failure) made here.
r.id, r.namespace, r.name, r.uid, r.phase, r.message, r.shutdown, r.kfp_run_id, r.pipeline_name,
r.scheduled_workflow,
CASE WHEN isfinite(r.created_at) THEN r.created_at END AS created_at,
CASE WHEN isfinite(r.started_at) THEN r.started_at END AS started_at,
CASE WHEN isfinite(r.finished_at) THEN r.finished_at END AS finished_at,
r.deleted_at IS NOT NULL AS deleted,
CASE WHEN isfinite(r.deleted_at) THEN r.deleted_at END AS deleted_at,
r.labels::text AS labels, r.parameters::text AS parameters, r.step_counts::text AS step_counts, r.nodes_offloaded,
r.duration_seconds AS duration, r.resources_duration::text AS resources_duration, r.progress, r.estimated_duration,
r.updated_at,
CASE WHEN jsonb_typeof(r.failed_step) = 'object' AND r.failed_step <> '{}'::jsonb
     THEN jsonb_build_object('id', r.failed_step -> 'id', 'name', r.failed_step -> 'name',
                             'template', r.failed_step -> 'template', 'message', r.failed_step -> 'message')::text
END AS failed_step,
CASE WHEN jsonb_typeof(r.failed_step) = 'object' AND r.failed_step <> '{}'::jsonb
     THEN r.failed_step ->> 'failure'
END AS failure,
{kfp_details} WHERE k.run_id = r.id)::text AS kfp

-- name: get_run
SELECT {run_columns} FROM runs WHERE id = $1;

-- name: list_steps
SELECT id, name, display_name, type, template, phase, boundary_id, pod_name, started_at, finished_at,
       exit_code, message, host_node, resources_duration
FROM steps WHERE run_id = $1
ORDER BY started_at NULLS LAST, id;

-- name: list_edges
SELECT parent_id, child_id FROM step_edges WHERE run_id = $1;

-- name: list_step_parameters
SELECT step_id, direction, name, value, truncated FROM parameters
WHERE run_id = $1 AND step_id <> '' ORDER BY step_id, direction, name;

-- name: list_artifact_refs
SELECT r.step_id, r.direction, r.name, r.path, r.storage, r.s3_bucket, r.s3_key, r.s3_endpoint, r.s3_region,
       r.location_source, r.archive, r.optional, r.uri, r.artifact_id, a.state, a.size
FROM artifact_refs r LEFT JOIN artifacts a ON a.id = r.artifact_id
WHERE r.run_id = $1 ORDER BY r.step_id, r.direction, r.name;

-- name: list_transitions
SELECT id, step_id, from_phase, to_phase, at, observed_at FROM transitions
WHERE run_id = $1 ORDER BY at, id;

-- name: run_namespace
SELECT namespace FROM runs WHERE id = $1;

-- name: run_namespaces
SELECT id, namespace FROM runs WHERE id = ANY($1::text[]);

-- name: known_namespaces
-- The distinct namespaces by skipping along runs_by_namespace (a loose index scan): one probe per
-- namespace, however many runs each holds.
WITH RECURSIVE ns (namespace) AS (
    (SELECT namespace FROM runs ORDER BY namespace LIMIT 1)
    UNION ALL
    SELECT (SELECT r.namespace FROM runs r WHERE r.namespace > ns.namespace ORDER BY r.namespace LIMIT 1)
    FROM ns WHERE ns.namespace IS NOT NULL
)
SELECT namespace FROM ns WHERE namespace IS NOT NULL;

-- name: list_run_metrics
SELECT m.step_id, m.name, m.value, m.format, m.artifact_id, (rm.step_id = m.step_id) AS is_run_value
FROM metrics m LEFT JOIN run_metrics rm ON rm.run_id = m.run_id AND rm.name = m.name
WHERE m.run_id = $1 ORDER BY m.name, m.step_id;

-- name: runs_by_phase
SELECT namespace, phase, count(*) AS runs FROM runs WHERE deleted_at IS NULL GROUP BY namespace, phase;

-- name: last_transition_id
SELECT coalesce(max(id), 0) FROM transitions;

-- name: step_finishes_after
-- Pod steps that finished in the next $2 transitions after id $1, by template and bucket ($3: the
-- bucket bounds; bucket i holds durations in (bounds[i-1], bounds[i]], as Prometheus' inclusive `le`
-- counts them), plus one summary row (template NULL) with the last id read and how many were read.
-- Transition ids become visible in commit order (migration 0007), so nothing after $1 is skipped.
WITH batch AS MATERIALIZED (
    SELECT id, run_id, step_id, to_phase FROM transitions WHERE id > $1 ORDER BY id LIMIT $2
), finished AS (
    SELECT coalesce(s.template, '') AS template, extract(epoch FROM s.finished_at - s.started_at)::float8 AS seconds
    FROM batch b JOIN steps s ON s.run_id = b.run_id AND s.id = b.step_id
    WHERE b.step_id <> '' AND b.to_phase = ANY($4::text[]) AND s.type = 'Pod'
      AND s.finished_at IS NOT NULL AND s.started_at IS NOT NULL
)
SELECT f.template, (SELECT count(*) FROM unnest($3::float8[]) x WHERE x < f.seconds)::int AS bucket,
       count(*) AS steps, sum(f.seconds) AS seconds, NULL::bigint AS last_id, NULL::bigint AS scanned
FROM finished f GROUP BY 1, 2
UNION ALL
SELECT NULL, NULL, 0, 0, (SELECT max(id) FROM batch), (SELECT count(*) FROM batch);

-- name: artifacts_by_state
SELECT state, count(*) AS artifacts FROM artifacts GROUP BY state;

-- name: compare_runs
SELECT {run_columns} FROM runs WHERE id = ANY($1::text[]);

-- name: compare_parameters
SELECT run_id, name, value FROM parameters WHERE run_id = ANY($1::text[]) AND step_id = '' ORDER BY name;

-- name: compare_metrics
SELECT run_id, name, value FROM run_metrics WHERE run_id = ANY($1::text[]) ORDER BY name;

-- name: pipeline_metric_series
-- One point per run of the pipeline reporting the metric, oldest first, paged by (sort_at, id).
SELECT r.id, r.name, r.namespace, r.phase, r.sort_at, r.finished_at, m.value
FROM runs r JOIN run_metrics m ON m.run_id = r.id AND m.name = $2
WHERE r.pipeline_name = $1 AND r.deleted_at IS NULL
  AND ($3::timestamptz IS NULL OR r.sort_at >= $3) AND ($4::timestamptz IS NULL OR r.sort_at < $4)
  AND ($6::text[] IS NULL OR r.namespace = ANY($6::text[]))
ORDER BY r.sort_at, r.id
LIMIT $5;

-- name: pipeline_resources_duration
-- resource -> seconds summed over the pipeline's runs in the window (the runs a series reads from).
WITH chosen AS (
    SELECT r.resources_duration FROM runs r
    WHERE r.pipeline_name = $1 AND r.deleted_at IS NULL
      AND ($2::timestamptz IS NULL OR r.sort_at >= $2) AND ($3::timestamptz IS NULL OR r.sort_at < $3)
      AND ($4::text[] IS NULL OR r.namespace = ANY($4::text[]))
), sums AS (
    SELECT e.key, sum(e.value::bigint) AS seconds
    FROM chosen c, jsonb_each_text(c.resources_duration) AS e
    GROUP BY e.key
)
SELECT (SELECT count(*) FROM chosen)::integer AS runs,
       coalesce((SELECT jsonb_object_agg(key, seconds) FROM sums), '{}'::jsonb) AS resources;

-- name: begin_snapshot
-- A request's snapshot, begun and limited in one round trip (a simple query: several statements, so
-- no bound values; every slot is a fixed word or an integer setting). SET LOCAL ends with it.
-- {plan_cache_mode} is force_custom_plan where the API binds user values whose selectivity varies
-- by orders of magnitude (a parameter value a fifth of all runs share, or one a few hold: a cached
-- generic plan fits one and takes seconds on the other), auto where it binds ids only.
-- No parallel workers: a page is LIMITed, and starting workers costs more than the scan they
-- would share, while taking cores from concurrent requests.
-- {enable_memoize} is off for run listings: a page joins each of its runs once, so a Memoize node the
-- planner puts before runs_pkey never hits, and its bookkeeping cost a quarter of a filtered page's
-- execution (0.83 -> 0.60 ms for param.lr=0.1 at 20,000 runs).
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SET LOCAL statement_timeout = {timeout_ms};
SET LOCAL plan_cache_mode = {plan_cache_mode};
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL enable_memoize = {enable_memoize};

-- name: read_session
-- begin_snapshot's limits for a read of one statement, which runs outside a transaction (a statement
-- sees one snapshot of its own): set on the session, where they stay for the next such read, so a
-- read costs the statement's round trip alone. Read-only through the default of every implicit
-- transaction. Any other user of the connection gets it reset first (store/connection.py).
SET statement_timeout = {timeout_ms};
SET default_transaction_read_only = on;
SET plan_cache_mode = {plan_cache_mode};
SET max_parallel_workers_per_gather = 0;
SET enable_memoize = {enable_memoize};
