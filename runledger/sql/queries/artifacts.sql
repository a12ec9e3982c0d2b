-- Read side of the artifact index. Listings are composed in runledger/store/artifact_listing.py
-- (only the WHERE clause varies).

-- name: artifact_columns
a.id, a.uri, a.bucket, a.key, a.endpoint, a.region, a.state, a.size, a.etag, a.content_type,
a.last_modified, a.error, a.errors, a.checked_at, a.first_seen_at

-- name: get_artifact
SELECT {artifact_columns}, a.content FROM artifacts a WHERE a.id = $1;

-- name: get_artifact_by_uri
SELECT {artifact_columns}, a.content FROM artifacts a WHERE a.uri = $1;

-- name: artifact_events
-- One direction at a time ($4: 'output' or 'input'), each capped on its own: an artifact a thousand
-- runs consumed still shows the step that produced it.
SELECT r.run_id, r.step_id, r.direction, r.name, r.path, s.name AS step_name, s.phase AS step_phase,
       s.finished_at, runs.namespace, runs.name AS run_name
FROM artifact_refs r
JOIN runs ON runs.id = r.run_id
LEFT JOIN steps s ON s.run_id = r.run_id AND s.id = r.step_id
WHERE r.artifact_id = $1 AND r.direction = $4 AND ($3::text[] IS NULL OR runs.namespace = ANY($3::text[]))
ORDER BY s.finished_at NULLS LAST, r.run_id, r.step_id
LIMIT $2;

-- name: artifact_metrics
SELECT name, value, format FROM artifact_metrics WHERE artifact_id = $1 ORDER BY name;
