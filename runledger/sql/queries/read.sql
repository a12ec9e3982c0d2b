-- Read side. Run listings are composed in runledger/metadata/runs.py from the fragments at the
-- end of this file (only the WHERE clause varies); everything else is a fixed statement.

-- name: run_columns
id, namespace, name, uid, kfp_run_id, pipeline_name, scheduled_workflow, phase, message, created_at,
started_at, finished_at, labels, parameters, step_counts, nodes_offloaded, deleted_at, resource_version,
updated_at, sort_at

-- name: run_columns_r
r.id, r.namespace, r.name, r.uid, r.kfp_run_id, r.pipeline_name, r.scheduled_workflow, r.phase, r.message,
r.created_at, r.started_at, r.finished_at, r.labels, r.parameters, r.step_counts, r.nodes_offloaded,
r.deleted_at, r.resource_version, r.updated_at, r.sort_at

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
SELECT r.step_id, r.direction, r.name, r.path, r.storage, r.s3_bucket, r.s3_key, r.s3_endpoint, r.s3_region,
       r.location_source, r.archive, r.optional, r.uri, r.artifact_id, a.state, a.size
FROM artifact_refs r LEFT JOIN artifacts a ON a.id = r.artifact_id
WHERE r.run_id = $1 ORDER BY r.step_id, r.direction, r.name;

-- name: list_transitions
SELECT id, step_id, from_phase, to_phase, at, observed_at FROM transitions
WHERE run_id = $1 ORDER BY at, id;

-- name: run_exists
SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1);

-- name: list_run_metrics
SELECT m.step_id, m.name, m.value, m.format, m.artifact_id, (rm.step_id = m.step_id) AS is_run_value
FROM metrics m LEFT JOIN run_metrics rm ON rm.run_id = m.run_id AND rm.name = m.name
WHERE m.run_id = $1 ORDER BY m.name, m.step_id;
