-- Live cluster: watch checkpoints, pods, and reconciliation after a relist.

-- name: load_checkpoint
SELECT resource_version FROM watch_checkpoints WHERE stream = $1;

-- name: save_checkpoint
INSERT INTO watch_checkpoints (stream, resource_version) VALUES ($1, $2)
ON CONFLICT (stream) DO UPDATE SET resource_version = excluded.resource_version, updated_at = now();

-- name: forget_checkpoint
DELETE FROM watch_checkpoints WHERE stream = $1;

-- name: database_now
SELECT now();

-- name: upsert_step_pods
INSERT INTO step_pods AS p (run_id, node_id, namespace, workflow_name, pod_name, pod_uid, phase, host_node, image,
                            exit_code, termination_reason, restart_count, requests, limits, scheduled_at,
                            started_at, finished_at, resource_version, deleted, fp)
SELECT u.run_id, u.node_id, u.namespace, u.workflow_name, u.pod_name, u.pod_uid, u.phase, u.host_node, u.image,
       u.exit_code, u.termination_reason, u.restart_count, u.requests::jsonb, u.limits::jsonb, u.scheduled_at,
       u.started_at, u.finished_at, u.resource_version, u.deleted, u.fp
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::integer[], $11::text[], $12::integer[], $13::text[], $14::text[],
            $15::timestamptz[], $16::timestamptz[], $17::timestamptz[], $18::text[], $19::boolean[], $20::bigint[])
     AS u(run_id, node_id, namespace, workflow_name, pod_name, pod_uid, phase, host_node, image, exit_code,
          termination_reason, restart_count, requests, limits, scheduled_at, started_at, finished_at,
          resource_version, deleted, fp)
ON CONFLICT (run_id, node_id) DO UPDATE SET
    namespace = excluded.namespace, workflow_name = excluded.workflow_name, pod_name = excluded.pod_name,
    pod_uid = excluded.pod_uid, phase = excluded.phase, host_node = excluded.host_node, image = excluded.image,
    exit_code = excluded.exit_code, termination_reason = excluded.termination_reason,
    restart_count = excluded.restart_count, requests = excluded.requests, limits = excluded.limits,
    scheduled_at = excluded.scheduled_at, started_at = excluded.started_at, finished_at = excluded.finished_at,
    resource_version = excluded.resource_version, deleted = excluded.deleted, fp = excluded.fp, updated_at = now()
-- A pod's deletion keeps what was last known about it; older versions never overwrite newer ones.
WHERE p.fp IS DISTINCT FROM excluded.fp
  AND NOT resource_version_is_older(excluded.resource_version, p.resource_version);

-- name: find_pod_owner_conflicts
-- Pods (by position in the arrays) whose run id belongs to another namespace/workflow: to its run,
-- or, while the run is not stored, to the pod first stored for the node. The first owner keeps it.
SELECT u.i, coalesce(r.namespace || '/' || r.name, p.namespace || '/' || p.workflow_name) AS owner
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(run_id, node_id, namespace, workflow_name, i)
LEFT JOIN runs r ON r.id = u.run_id
LEFT JOIN step_pods p ON p.run_id = u.run_id AND p.node_id = u.node_id
WHERE (r.id IS NOT NULL AND (r.namespace, r.name) <> (u.namespace, u.workflow_name))
   OR (r.id IS NULL AND p.run_id IS NOT NULL AND (p.namespace, p.workflow_name) <> (u.namespace, u.workflow_name));

-- name: list_step_pods
SELECT node_id, pod_name, pod_uid, phase, host_node, image, exit_code, termination_reason, restart_count,
       requests, limits, scheduled_at, started_at, finished_at, deleted
FROM step_pods p
WHERE run_id = $1
  -- Stored before its run, a pod of another namespace/workflow under the same uid is not this run's.
  AND EXISTS (SELECT 1 FROM runs r WHERE r.id = p.run_id AND r.namespace = p.namespace AND r.name = p.workflow_name);

-- name: mark_unlisted_runs_deleted
-- Runs the fresh list no longer holds were deleted while we were not watching. Only runs in the
-- stream's scope, and only those not written since the list began (a run created after the list
-- snapshot is not in it, yet alive).
UPDATE runs SET deleted_at = now(), updated_at = now()
WHERE deleted_at IS NULL
  AND id <> ALL($1::text[])
  AND updated_at < $2
  AND ($3::text[] IS NULL OR namespace = ANY($3::text[]))
  AND ($4::jsonb IS NULL OR labels @> $4::jsonb)
  -- A shard's list holds only its own namespaces' runs: runledger.core.shards.namespace_hash, in SQL.
  AND ($5::int IS NULL OR ('x' || left(md5(namespace), 8))::bit(32)::bigint % $5 = $6::int)
RETURNING id, phase;
