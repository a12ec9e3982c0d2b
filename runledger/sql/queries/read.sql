-- Read side. Run listings are composed in runledger/metadata/runs.py from the fragments at the
-- end of this file (only the WHERE clause varies); everything else is a fixed statement.

-- name: run_columns
id, namespace, name, uid, kfp_run_id, pipeline_name, scheduled_workflow, phase, message, created_at,
started_at, finished_at, labels, parameters, step_counts, nodes_offloaded, deleted_at, resource_version,
updated_at, sort_at

-- name: get_run
SELECT {run_columns} FROM runs WHERE id = $1;

-- name: list_steps
SELECT id, name, display_name, type, template, phase, boundary_id, pod_name, started_at, finished_at,
       exit_code, message, host_node
FROM steps WHERE run_id = $1
ORDER BY started_at NULLS LAST, id;

-- name: list_edges
SELECT parent_id, child_id FROM step_edges WHERE run_id = $1;

-- name: list_step_parameters
SELECT step_id, direction, name, value, truncated FROM parameters
WHERE run_id = $1 AND step_id <> '' ORDER BY step_id, direction, name;

-- name: list_artifact_refs
SELECT step_id, direction, name, path, storage, s3_bucket, s3_key, s3_endpoint, s3_region, location_source,
       archive, optional, uri
FROM artifact_refs WHERE run_id = $1 ORDER BY step_id, direction, name;

-- name: list_transitions
SELECT id, step_id, from_phase, to_phase, at, observed_at FROM transitions
WHERE run_id = $1 ORDER BY at, id;

-- name: run_exists
SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1);
