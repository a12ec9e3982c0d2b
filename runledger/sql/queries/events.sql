-- The live event feed. Transitions become visible in id order (migration 0007), so "everything
-- after id N" is a keyset scan of the primary key, read in bounded batches. The joins add what a
-- dashboard shows beside a transition; LEFT JOINs because a step may since have been removed.

-- name: newest_transition_id
SELECT coalesce(max(id), 0) FROM transitions;

-- name: transitions_after
-- $1: the last id already read; $2: at most this many rows.
SELECT t.id, t.run_id, t.step_id, t.from_phase, t.to_phase, t.at, t.observed_at,
       coalesce(r.namespace, '') AS namespace, coalesce(r.name, '') AS workflow,
       coalesce(s.display_name, s.name) AS step_name
FROM transitions t
LEFT JOIN runs r ON r.id = t.run_id
LEFT JOIN steps s ON s.run_id = t.run_id AND s.id = t.step_id AND t.step_id <> ''
WHERE t.id > $1
ORDER BY t.id
LIMIT $2;

-- name: replay_transitions
-- What a resuming client missed: ids in ($1, $2], only its namespaces ($3, NULL: all) and runs
-- ($4, NULL: all), at most $5 rows.
SELECT t.id, t.run_id, t.step_id, t.from_phase, t.to_phase, t.at, t.observed_at,
       coalesce(r.namespace, '') AS namespace, coalesce(r.name, '') AS workflow,
       coalesce(s.display_name, s.name) AS step_name
FROM transitions t
LEFT JOIN runs r ON r.id = t.run_id
LEFT JOIN steps s ON s.run_id = t.run_id AND s.id = t.step_id AND t.step_id <> ''
WHERE t.id > $1 AND t.id <= $2
  AND ($3::text[] IS NULL OR r.namespace = ANY($3::text[]))
  AND ($4::text[] IS NULL OR t.run_id = ANY($4::text[]))
ORDER BY t.id
LIMIT $5;
