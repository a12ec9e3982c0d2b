-- OpenLineage export (runledger/store/openlineage_outbox.py): the outbox the writer fills and the
-- sender drains, and what an event is rendered from.

-- name: openlineage_backfill
-- History stored before export was turned on (or since `$1`); transitions already queued are skipped.
INSERT INTO openlineage_outbox (transition_id, run_id)
SELECT t.id, t.run_id FROM transitions t
WHERE $1::timestamptz IS NULL OR t.at >= $1
ORDER BY t.id
ON CONFLICT (transition_id) DO NOTHING;

-- name: openlineage_unsent
SELECT transition_id, attempts FROM openlineage_outbox
WHERE sent_at IS NULL AND refused_at IS NULL
ORDER BY transition_id
LIMIT $1;

-- name: openlineage_backlog
SELECT count(*) FROM openlineage_outbox WHERE sent_at IS NULL AND refused_at IS NULL;

-- name: openlineage_mark_sent
UPDATE openlineage_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL
WHERE transition_id = ANY($1::bigint[]);

-- name: openlineage_mark_failed
UPDATE openlineage_outbox o SET attempts = o.attempts + 1, last_error = u.error,
    refused_at = CASE WHEN u.refused THEN now() END
FROM unnest($1::bigint[], $2::text[], $3::boolean[]) AS u(transition_id, error, refused)
WHERE o.transition_id = u.transition_id;

-- name: openlineage_transitions
SELECT t.id, t.run_id, t.step_id, t.from_phase, t.to_phase, t.at,
       r.namespace, r.name AS run_name, r.uid, r.kfp_run_id, r.pipeline_name, r.scheduled_workflow,
       r.labels, r.parameters AS run_parameters, r.message AS run_message, r.shutdown,
       s.name AS step_name, s.display_name, s.type AS step_type, s.template, s.message AS step_message,
       s.exit_code
FROM transitions t
JOIN runs r ON r.id = t.run_id
LEFT JOIN steps s ON s.run_id = t.run_id AND s.id = t.step_id
WHERE t.id = ANY($1::bigint[])
ORDER BY t.id;

-- name: openlineage_step_parameters
SELECT p.run_id, p.step_id, p.direction, p.name, p.value
FROM parameters p
JOIN unnest($1::text[], $2::text[]) AS k(run_id, step_id) ON p.run_id = k.run_id AND p.step_id = k.step_id
ORDER BY p.run_id, p.step_id, p.direction, p.name;

-- name: openlineage_step_datasets
-- The S3 objects steps read and wrote, with what the indexer found (size, ETag) where it has.
SELECT ar.run_id, ar.step_id, ar.direction, ar.name, ar.s3_bucket, ar.s3_key, a.state, a.size, a.etag
FROM artifact_refs ar
JOIN unnest($1::text[], $2::text[]) AS k(run_id, step_id) ON ar.run_id = k.run_id AND ar.step_id = k.step_id
LEFT JOIN artifacts a ON a.id = ar.artifact_id
WHERE ar.s3_bucket IS NOT NULL AND ar.s3_key IS NOT NULL
ORDER BY ar.run_id, ar.step_id, ar.direction, ar.name;

-- name: openlineage_metrics
SELECT run_id, step_id, name, value FROM run_metrics WHERE run_id = ANY($1::text[]) ORDER BY run_id, name;
