-- The artifact indexer's queue and results. Claims are leases: a worker that dies leaves entries
-- whose claimed_until passes, and the next claim takes them again.

-- name: claim_artifacts
UPDATE artifact_queue q
SET claimed_until = now() + make_interval(secs => $2), attempts = q.attempts + 1
FROM artifacts a
WHERE q.artifact_id IN (
        SELECT artifact_id FROM artifact_queue
        WHERE due_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY due_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
  AND a.id = q.artifact_id
RETURNING a.id, a.uri, a.bucket, a.key, a.endpoint, a.region, a.insecure, a.state, a.etag, q.attempts,
          q.generation,
          EXISTS (SELECT 1 FROM artifact_refs r
                  WHERE r.artifact_id = a.id AND r.direction = 'output' AND r.name = 'mlpipeline-metrics') AS is_metrics,
          EXISTS (SELECT 1 FROM artifact_refs r
                  WHERE r.artifact_id = a.id AND r.direction = 'output' AND r.name = 'mlpipeline-ui-metadata') AS is_ui_metadata,
          NOT EXISTS (SELECT 1 FROM artifact_metrics m WHERE m.artifact_id = a.id) AS metrics_unread,
          a.content IS NULL AS content_unread;

-- name: release_artifacts
UPDATE artifact_queue SET claimed_until = NULL, attempts = greatest(attempts - 1, 0)
WHERE artifact_id = ANY($1::bigint[]);

-- name: record_outcomes
-- One statement for a whole batch, so the common batch (HEADs only) is one round trip and needs no
-- transaction block. No two parts touch the same row: an artifact is claimed by one worker at a
-- time, so it appears once in a batch, and a queue entry is either retried or finished.
WITH heads AS (
    UPDATE artifacts a SET state = 'indexed', size = u.size, etag = u.etag, content_type = u.content_type,
                           last_modified = u.last_modified, error = NULL, checked_at = now()
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[])
         AS u(id, size, etag, content_type, last_modified)
    WHERE a.id = u.id
), unavailable AS (
    UPDATE artifacts a SET state = u.state, error = u.error, checked_at = now()
    FROM unnest($6::bigint[], $7::text[], $8::text[]) AS u(id, state, error)
    WHERE a.id = u.id
), retried AS (
    UPDATE artifact_queue q SET claimed_until = NULL, last_error = u.error,
                                due_at = now() + make_interval(secs => u.delay)
    FROM unnest($9::bigint[], $10::text[], $11::double precision[]) AS u(artifact_id, error, delay)
    WHERE q.artifact_id = u.artifact_id
)
-- A finished entry goes, unless someone re-enqueued it meanwhile (a newer producer of the same key
-- needs a new check): then it stays and becomes claimable again now. MERGE re-evaluates its WHEN
-- clauses on a row a concurrent writer has just re-enqueued, which a DELETE and an UPDATE sharing
-- one snapshot would not.
MERGE INTO artifact_queue q
USING unnest($12::bigint[], $13::integer[]) AS d(artifact_id, generation) ON q.artifact_id = d.artifact_id
WHEN MATCHED AND q.generation = d.generation THEN DELETE
WHEN MATCHED THEN UPDATE SET claimed_until = NULL;

-- name: record_content
UPDATE artifacts SET content = $2::jsonb, errors = $3::jsonb WHERE id = $1;

-- name: replace_artifact_metrics
WITH gone AS (
    DELETE FROM artifact_metrics m WHERE m.artifact_id = $1 AND NOT (m.name = ANY($2::text[]))
)
INSERT INTO artifact_metrics (artifact_id, name, value, format)
SELECT $1, * FROM unnest($2::text[], $3::double precision[], $4::text[])
ON CONFLICT (artifact_id, name) DO UPDATE SET value = excluded.value, format = excluded.format;

-- name: materialize_metrics
-- Every step that produced this metrics file gets its metrics; names the file no longer holds go.
-- A run keeps at most $2 metrics across its steps' files, as KFP's persistence agent reports at most
-- 50 per run: the file's metrics beyond what the run's other files left room for are not stored
-- (in name order, for a stable choice), and the statement returns, per run, how many were not.
WITH producers AS (
    SELECT DISTINCT r.run_id, r.step_id FROM artifact_refs r
    WHERE r.artifact_id = $1 AND r.direction = 'output' AND r.name = 'mlpipeline-metrics'
), held AS (
    SELECT p.run_id, count(x.run_id) AS elsewhere
    FROM (SELECT DISTINCT run_id FROM producers) p
    LEFT JOIN metrics x ON x.run_id = p.run_id AND x.artifact_id <> $1
    GROUP BY p.run_id
), candidates AS (
    SELECT p.run_id, p.step_id, m.name, m.value, m.format, m.artifact_id,
           h.elsewhere + row_number() OVER (PARTITION BY p.run_id ORDER BY p.step_id, m.name) AS nth
    FROM producers p JOIN held h USING (run_id) CROSS JOIN artifact_metrics m
    WHERE m.artifact_id = $1
), gone AS (
    DELETE FROM metrics x USING producers p
    WHERE x.run_id = p.run_id AND x.step_id = p.step_id AND x.artifact_id = $1
      AND NOT EXISTS (SELECT 1 FROM candidates c
                      WHERE c.run_id = x.run_id AND c.step_id = x.step_id AND c.name = x.name AND c.nth <= $2)
), stored AS (
    INSERT INTO metrics (run_id, step_id, name, value, format, artifact_id)
    SELECT run_id, step_id, name, value, format, artifact_id FROM candidates WHERE nth <= $2
    ON CONFLICT (run_id, step_id, name) DO UPDATE
    SET value = excluded.value, format = excluded.format, artifact_id = excluded.artifact_id
)
SELECT run_id, count(*) AS left_out FROM candidates WHERE nth > $2 GROUP BY run_id ORDER BY run_id;

-- name: refresh_run_metrics
-- A separate statement from materialize_metrics so it sees the rows that one wrote.
WITH affected AS (
    SELECT DISTINCT r.run_id FROM artifact_refs r
    WHERE r.artifact_id = $1 AND r.direction = 'output' AND r.name = 'mlpipeline-metrics'
), latest AS (
    SELECT DISTINCT ON (m.run_id, m.name) m.run_id, m.name, m.value, m.step_id
    FROM metrics m
    JOIN affected USING (run_id)
    LEFT JOIN steps s ON s.run_id = m.run_id AND s.id = m.step_id
    ORDER BY m.run_id, m.name, s.finished_at DESC NULLS LAST, m.step_id DESC
), gone AS (
    DELETE FROM run_metrics rm USING affected
    WHERE rm.run_id = affected.run_id
      AND NOT EXISTS (SELECT 1 FROM latest l WHERE l.run_id = rm.run_id AND l.name = rm.name)
)
INSERT INTO run_metrics (run_id, name, value, step_id)
SELECT run_id, name, value, step_id FROM latest
ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value, step_id = excluded.step_id;

-- name: artifact_backlog
SELECT count(*) AS queued, count(*) FILTER (WHERE due_at <= now()) AS due FROM artifact_queue;
