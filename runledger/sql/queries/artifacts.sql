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

-- name: step_log
-- The steps $2 names in run $1 (its node id, else its display name; two rows say the name is not
-- unique), each with its archived log: Argo's archiveLogs stores it as the output artifact
-- main-logs (a container set's containers as <container>-logs).
SELECT s.id AS step_id, r.name AS log_name, r.storage, a.id AS artifact_id, a.uri, a.bucket, a.key, a.endpoint,
       a.region, a.insecure, a.state, a.size
FROM steps s
LEFT JOIN LATERAL (
    SELECT r.name, r.storage, r.artifact_id FROM artifact_refs r
    WHERE r.run_id = s.run_id AND r.step_id = s.id AND r.direction = 'output'
      AND (r.name = 'main-logs' OR r.name LIKE '%-logs')
    ORDER BY r.name <> 'main-logs', r.name
    LIMIT 1) r ON true
LEFT JOIN artifacts a ON a.id = r.artifact_id
WHERE s.run_id = $1 AND (s.id = $2 OR s.display_name = $2)
ORDER BY s.id = $2 DESC, s.id
LIMIT 2;

-- name: artifact_location
SELECT a.id AS artifact_id, a.uri, a.bucket, a.key, a.endpoint, a.region, a.insecure, a.state, a.size
FROM artifacts a WHERE a.id = $1;
