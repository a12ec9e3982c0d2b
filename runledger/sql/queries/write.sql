-- Write side. Every statement takes whole columns as arrays and unnests them, so one round trip
-- writes the rows of every run in a group-committed batch, however many there are.

-- name: load_run_fingerprints
SELECT id, fp, phase, resource_version, deleted_at IS NOT NULL AS deleted, namespace, name
FROM runs WHERE id = ANY($1::text[]);

-- name: load_step_fingerprints
SELECT run_id, id, fp, phase FROM steps WHERE run_id = ANY($1::text[]);

-- name: load_edges
SELECT run_id, parent_id, child_id FROM step_edges WHERE run_id = ANY($1::text[]);

-- name: load_parameter_fingerprints
SELECT run_id, step_id, direction, name, fp FROM parameters WHERE run_id = ANY($1::text[]);

-- name: load_artifact_fingerprints
SELECT run_id, step_id, direction, name, fp FROM artifact_refs WHERE run_id = ANY($1::text[]);

-- name: upsert_runs
INSERT INTO runs AS r (
    id, namespace, name, uid, kfp_run_id, pipeline_name, scheduled_workflow, phase, message,
    created_at, started_at, finished_at, labels, parameters, step_counts, nodes_offloaded,
    deleted_at, resource_version, fp, shutdown, failed_step)
SELECT u.id, u.namespace, u.name, u.uid, u.kfp_run_id, u.pipeline_name, u.scheduled_workflow, u.phase,
       u.message, u.created_at, u.started_at, u.finished_at, u.labels::jsonb, u.parameters::jsonb,
       u.step_counts::jsonb, u.nodes_offloaded, u.deleted_at, u.resource_version, u.fp, u.shutdown,
       u.failed_step::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[],
            $15::text[], $16::boolean[], $17::timestamptz[], $18::text[], $19::bigint[], $20::text[], $21::text[])
     AS u(id, namespace, name, uid, kfp_run_id, pipeline_name, scheduled_workflow, phase, message,
          created_at, started_at, finished_at, labels, parameters, step_counts, nodes_offloaded,
          deleted_at, resource_version, fp, shutdown, failed_step)
ON CONFLICT (id) DO UPDATE SET
    namespace = excluded.namespace, name = excluded.name, uid = excluded.uid,
    kfp_run_id = excluded.kfp_run_id, pipeline_name = excluded.pipeline_name,
    scheduled_workflow = excluded.scheduled_workflow, phase = excluded.phase, message = excluded.message,
    shutdown = excluded.shutdown, failed_step = excluded.failed_step,
    created_at = excluded.created_at, started_at = excluded.started_at, finished_at = excluded.finished_at,
    labels = excluded.labels, parameters = excluded.parameters, step_counts = excluded.step_counts,
    nodes_offloaded = excluded.nodes_offloaded,
    -- A run stays deleted at the moment it was first seen deleted.
    deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(r.deleted_at, excluded.deleted_at) END,
    resource_version = excluded.resource_version, fp = excluded.fp, updated_at = now()
-- The writer has already refused these from what it read; this catches a run another writer stored
-- since then (the writer then sees fewer rows than it sent, and starts over from the database).
WHERE r.namespace = excluded.namespace AND r.name = excluded.name
  AND NOT resource_version_is_older(excluded.resource_version, r.resource_version);

-- name: upsert_steps
INSERT INTO steps (run_id, id, name, display_name, type, template, phase, boundary_id, pod_name,
                   started_at, finished_at, exit_code, message, host_node, fp)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::integer[],
                     $13::text[], $14::text[], $15::bigint[])
ON CONFLICT (run_id, id) DO UPDATE SET
    name = excluded.name, display_name = excluded.display_name, type = excluded.type,
    template = excluded.template, phase = excluded.phase, boundary_id = excluded.boundary_id,
    pod_name = excluded.pod_name, started_at = excluded.started_at, finished_at = excluded.finished_at,
    exit_code = excluded.exit_code, message = excluded.message, host_node = excluded.host_node,
    fp = excluded.fp;

-- name: delete_steps
DELETE FROM steps s USING unnest($1::text[], $2::text[]) AS d(run_id, id)
WHERE s.run_id = d.run_id AND s.id = d.id;

-- name: insert_edges
INSERT INTO step_edges (run_id, parent_id, child_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT DO NOTHING;

-- name: delete_edges
DELETE FROM step_edges e USING unnest($1::text[], $2::text[], $3::text[]) AS d(run_id, parent_id, child_id)
WHERE e.run_id = d.run_id AND e.parent_id = d.parent_id AND e.child_id = d.child_id;

-- name: upsert_parameters
INSERT INTO parameters (run_id, step_id, direction, name, value, truncated, fp)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::bigint[])
ON CONFLICT (run_id, step_id, direction, name) DO UPDATE SET
    value = excluded.value, truncated = excluded.truncated, fp = excluded.fp;

-- name: delete_parameters
DELETE FROM parameters p USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(run_id, step_id, direction, name)
WHERE p.run_id = d.run_id AND p.step_id = d.step_id AND p.direction = d.direction AND p.name = d.name;

-- name: discover_artifacts
-- Ordered by uri so concurrent writers take the unique index's locks in one order (no deadlocks).
INSERT INTO artifacts (uri, bucket, key, endpoint, region, insecure)
SELECT DISTINCT ON (u.uri) u.uri, u.bucket, u.key, u.endpoint, u.region, u.insecure
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[])
     AS u(uri, bucket, key, endpoint, region, insecure, direction)
WHERE u.uri IS NOT NULL
-- Where a producer and a consumer disagree on the endpoint, the producer's location is the object's.
ORDER BY u.uri, u.direction = 'output' DESC
ON CONFLICT (uri) DO NOTHING;

-- name: upsert_artifact_refs
-- A separate statement from discover_artifacts on purpose: under READ COMMITTED it sees artifacts
-- another writer inserted concurrently, which a CTE in the same statement would not.
INSERT INTO artifact_refs (run_id, step_id, direction, name, path, storage, s3_bucket, s3_key, s3_endpoint,
                           s3_region, s3_insecure, location_source, archive, optional, uri, fp, artifact_id)
SELECT u.*, a.id
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::text[], $14::boolean[],
            $15::text[], $16::bigint[])
     AS u(run_id, step_id, direction, name, path, storage, s3_bucket, s3_key, s3_endpoint, s3_region,
          s3_insecure, location_source, archive, optional, uri, fp)
LEFT JOIN artifacts a ON a.uri = u.uri
ON CONFLICT (run_id, step_id, direction, name) DO UPDATE SET
    path = excluded.path, storage = excluded.storage, s3_bucket = excluded.s3_bucket, s3_key = excluded.s3_key,
    s3_endpoint = excluded.s3_endpoint, s3_region = excluded.s3_region, s3_insecure = excluded.s3_insecure,
    location_source = excluded.location_source, archive = excluded.archive, optional = excluded.optional,
    uri = excluded.uri, fp = excluded.fp, artifact_id = excluded.artifact_id;

-- name: enqueue_artifacts
-- A newly produced output is (re)checked: the same key may have been overwritten. An input is
-- only checked if nothing ever checked its object.
INSERT INTO artifact_queue (artifact_id)
SELECT a.id FROM artifacts a
WHERE a.uri = ANY($1::text[]) OR (a.uri = ANY($2::text[]) AND a.checked_at IS NULL)
ORDER BY a.id
ON CONFLICT (artifact_id) DO UPDATE
SET generation = artifact_queue.generation + 1, due_at = least(artifact_queue.due_at, now());

-- name: delete_artifact_refs
DELETE FROM artifact_refs a USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(run_id, step_id, direction, name)
WHERE a.run_id = d.run_id AND a.step_id = d.step_id AND a.direction = d.direction AND a.name = d.name;

-- name: insert_transitions
-- Ids are drawn in the order of the arrays: a run's or step's transitions reach the event feed in
-- the order they happened, earlier phases of a coalesced state before its own.
INSERT INTO transitions (run_id, step_id, from_phase, to_phase, at)
SELECT run_id, step_id, from_phase, to_phase, at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
    WITH ORDINALITY AS t(run_id, step_id, from_phase, to_phase, at, n)
ORDER BY n
ON CONFLICT (run_id, step_id, to_phase, at) DO NOTHING;
