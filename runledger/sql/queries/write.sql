-- Write side. Every statement takes its rows as one JSON array and unnests it, so one round trip
-- writes the rows of every run in a group-committed batch, however many there are. The writer fills
-- in {unnest} (the rows, numbered n in the order sent), {columns} (the column names, in the rows' order) and
-- {values} (u.<column>, cast to the column's type) from the table's row definition in
-- runledger/store/write_rows.py, the one place that orders the columns.

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
INSERT INTO runs AS r ({columns})
SELECT {values} FROM {unnest} AS u({columns})
ON CONFLICT (id) DO UPDATE SET
    namespace = excluded.namespace, name = excluded.name, uid = excluded.uid,
    kfp_run_id = excluded.kfp_run_id, pipeline_name = excluded.pipeline_name,
    scheduled_workflow = excluded.scheduled_workflow, phase = excluded.phase, message = excluded.message,
    shutdown = excluded.shutdown, failed_step = excluded.failed_step,
    created_at = excluded.created_at, started_at = excluded.started_at, finished_at = excluded.finished_at,
    labels = excluded.labels, parameters = excluded.parameters, step_counts = excluded.step_counts,
    nodes_offloaded = excluded.nodes_offloaded, resources_duration = excluded.resources_duration,
    progress = excluded.progress, estimated_duration = excluded.estimated_duration,
    -- A run stays deleted at the moment it was first seen deleted.
    deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL ELSE coalesce(r.deleted_at, excluded.deleted_at) END,
    resource_version = excluded.resource_version, fp = excluded.fp, updated_at = now()
-- The writer has already refused these from what it read; this catches a run another writer stored
-- since then (the writer then sees fewer rows than it sent, and starts over from the database).
WHERE r.namespace = excluded.namespace AND r.name = excluded.name
  AND NOT resource_version_is_older(excluded.resource_version, r.resource_version);

-- name: upsert_steps
INSERT INTO steps ({columns})
SELECT {values} FROM {unnest} AS u({columns})
ON CONFLICT (run_id, id) DO UPDATE SET
    name = excluded.name, display_name = excluded.display_name, type = excluded.type,
    template = excluded.template, phase = excluded.phase, boundary_id = excluded.boundary_id,
    pod_name = excluded.pod_name, started_at = excluded.started_at, finished_at = excluded.finished_at,
    exit_code = excluded.exit_code, message = excluded.message, host_node = excluded.host_node,
    fp = excluded.fp, resources_duration = excluded.resources_duration;

-- name: delete_steps
DELETE FROM steps s USING {unnest} AS u({columns})
WHERE s.run_id = u.run_id AND s.id = u.id;

-- name: insert_edges
INSERT INTO step_edges ({columns})
SELECT {values} FROM {unnest} AS u({columns})
ON CONFLICT DO NOTHING;

-- name: delete_edges
DELETE FROM step_edges e USING {unnest} AS u({columns})
WHERE e.run_id = u.run_id AND e.parent_id = u.parent_id AND e.child_id = u.child_id;

-- name: upsert_parameters
INSERT INTO parameters ({columns})
SELECT {values} FROM {unnest} AS u({columns})
ON CONFLICT (run_id, step_id, direction, name) DO UPDATE SET
    value = excluded.value, truncated = excluded.truncated, fp = excluded.fp;

-- name: delete_parameters
DELETE FROM parameters p USING {unnest} AS u({columns})
WHERE p.run_id = u.run_id AND p.step_id = u.step_id AND p.direction = u.direction AND p.name = u.name;

-- name: discover_artifacts
-- Ordered by uri so concurrent writers take the unique index's locks in one order (no deadlocks).
INSERT INTO artifacts (uri, bucket, key, endpoint, region, insecure)
SELECT DISTINCT ON (u.uri) u.uri, u.bucket, u.key, u.endpoint, u.region, u.insecure
FROM {unnest} AS u({columns})
WHERE u.uri IS NOT NULL
-- Where a producer and a consumer disagree on the endpoint, the producer's location is the object's.
ORDER BY u.uri, u.direction = 'output' DESC
ON CONFLICT (uri) DO NOTHING;

-- name: upsert_artifact_refs
-- A separate statement from discover_artifacts on purpose: under READ COMMITTED it sees artifacts
-- another writer inserted concurrently, which a CTE in the same statement would not.
INSERT INTO artifact_refs ({columns}, artifact_id)
SELECT {values}, a.id
FROM {unnest} AS u({columns})
LEFT JOIN artifacts a ON a.uri = u.uri
ON CONFLICT (run_id, step_id, direction, name) DO UPDATE SET
    path = excluded.path, storage = excluded.storage, s3_bucket = excluded.s3_bucket, s3_key = excluded.s3_key,
    s3_endpoint = excluded.s3_endpoint, s3_region = excluded.s3_region, s3_insecure = excluded.s3_insecure,
    location_source = excluded.location_source, archive = excluded.archive, optional = excluded.optional,
    uri = excluded.uri, fp = excluded.fp, artifact_id = excluded.artifact_id;

-- name: enqueue_artifacts
-- A newly produced output is (re)checked: the same key may have been overwritten. An input is
-- only checked if nothing ever checked its object.
-- Each list joined to artifacts by uri (its unique index), not `uri = ANY(..) OR ..`, which the planner
-- answers by reading every artifact: a batch's cost grew with the store.
INSERT INTO artifact_queue (artifact_id)
SELECT a.id FROM unnest($1::text[]) AS o (uri) JOIN artifacts a ON a.uri = o.uri
UNION ALL  -- the inputs hold no output: the lists share no uri
SELECT a.id FROM unnest($2::text[]) AS i (uri) JOIN artifacts a ON a.uri = i.uri WHERE a.checked_at IS NULL
ORDER BY 1
ON CONFLICT (artifact_id) DO UPDATE
SET generation = artifact_queue.generation + 1, due_at = least(artifact_queue.due_at, now());

-- name: delete_artifact_refs
DELETE FROM artifact_refs a USING {unnest} AS u({columns})
WHERE a.run_id = u.run_id AND a.step_id = u.step_id AND a.direction = u.direction AND a.name = u.name;

-- name: insert_transitions
-- Ids are drawn in the order of the arrays: a run's or step's transitions reach the event feed in
-- the order they happened, earlier phases of a coalesced state before its own.
INSERT INTO transitions ({columns})
SELECT {values}
FROM {unnest} AS u({columns})
ORDER BY u.n
ON CONFLICT (run_id, step_id, to_phase, at) DO NOTHING;

-- name: insert_transitions_and_outbox
-- insert_transitions while OpenLineage export is on: every transition inserted (none a replay skips)
-- queues its event in the same statement (migration 0018).
WITH inserted AS (
    INSERT INTO transitions ({columns})
    SELECT {values}
    FROM {unnest} AS u({columns})
    ORDER BY u.n
    ON CONFLICT (run_id, step_id, to_phase, at) DO NOTHING
    RETURNING id, run_id
)
INSERT INTO openlineage_outbox (transition_id, run_id)
SELECT id, run_id FROM inserted;

-- name: refresh_parameter_edges
-- The parameter edges of the runs $1 made what their rows now say (migration 0022): rows no longer
-- inferred deleted, new ones inserted, changed names updated; an unchanged edge is not touched.
WITH fresh AS MATERIALIZED (
    SELECT * FROM parameter_edges_inferred($1::text[])
), gone AS (
    DELETE FROM parameter_edges e
    WHERE e.run_id = ANY ($1::text[])
      AND NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE f.run_id = e.run_id AND f.source_id = e.source_id AND f.target_id = e.target_id)
)
INSERT INTO parameter_edges AS e (run_id, source_id, target_id, names)
SELECT f.run_id, f.source_id, f.target_id, f.names FROM fresh f
ON CONFLICT (run_id, source_id, target_id) DO UPDATE SET names = excluded.names
WHERE e.names IS DISTINCT FROM excluded.names;
