-- Lineage: the graph of steps and artifacts (see runledger/store/lineage_graph.py for the model).
--
-- Node ids are the API's own: 'step:<run id>/<node id>' and 'artifact:<artifacts.id>'. Run ids
-- never hold a '/', so a step id splits at its first one. lineage_walk is composed in Python from
-- the blocks below: {neighbours} is lineage_upstream or lineage_downstream. No block holds a
-- literal brace.

-- name: lineage_walk
-- Breadth-first search from the seeds $1, at most $2 hops, at most $3 nodes in all; $4: the
-- readable namespaces (NULL: all), a step of any other namespace is reached but not expanded.
-- One row per hop: the nodes first reached at that distance. `seen` is every node reached so
-- far, so each node is expanded once however many paths lead to it, and cycles end by
-- themselves. When a hop would pass the node cap it keeps the first nodes by id and the walk stops
-- with truncated = true.
WITH RECURSIVE walk (depth, frontier, seen, truncated) AS (
    SELECT 0, $1::text[], $1::text[], false
  UNION ALL
    SELECT w.depth + 1, hop.found[1:hop.room], w.seen || hop.found[1:hop.room], cardinality(hop.found) > hop.room
    FROM walk w
    CROSS JOIN LATERAL (SELECT greatest($3 - cardinality(w.seen), 0) AS room) cap
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(n.id ORDER BY n.id), ARRAY[]::text[]) AS found, cap.room
        FROM (
            SELECT c.id
            FROM (
                SELECT DISTINCT nb.id
                FROM unnest(w.frontier) AS f (id)
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN f.id LIKE 'artifact:%' THEN substr(f.id, 10)::bigint END AS artifact_id,
                           CASE WHEN f.id LIKE 'step:%' THEN substr(f.id, 6, strpos(f.id, '/') - 6) END AS run_id,
                           CASE WHEN f.id LIKE 'step:%' THEN substr(f.id, strpos(f.id, '/') + 1) END AS step_id
                ) p
                CROSS JOIN LATERAL (
                    {neighbours}
                ) nb
                WHERE p.run_id IS NULL OR $4::text[] IS NULL
                   OR EXISTS (SELECT 1 FROM runs x WHERE x.id = p.run_id AND x.namespace = ANY ($4::text[]))
            ) c
            WHERE c.id <> ALL (w.seen)
            ORDER BY c.id
            LIMIT cap.room + 1
        ) n
    ) hop
    WHERE w.depth < $2 AND cardinality(w.frontier) > 0 AND NOT w.truncated
)
SELECT depth, frontier AS ids, truncated FROM walk ORDER BY depth;

-- name: lineage_upstream
-- What the node p came from: the artifacts a step consumed, the steps that produced an artifact,
-- the steps whose output parameters fed a step's inputs (parameter_edges, migration 0022).
SELECT 'artifact:' || r.artifact_id AS id
FROM artifact_refs r
WHERE r.run_id = p.run_id AND r.step_id = p.step_id AND r.direction = 'input' AND r.artifact_id IS NOT NULL
UNION ALL
SELECT 'step:' || r.run_id || '/' || r.step_id
FROM artifact_refs r
WHERE r.artifact_id = p.artifact_id AND r.direction = 'output'
UNION ALL
SELECT 'step:' || e.run_id || '/' || e.source_id
FROM parameter_edges e
WHERE e.run_id = p.run_id AND e.target_id = p.step_id

-- name: lineage_downstream
-- What came of the node p: the artifacts a step produced, the steps that consumed an artifact,
-- the steps whose inputs a step's output parameters fed.
SELECT 'artifact:' || r.artifact_id AS id
FROM artifact_refs r
WHERE r.run_id = p.run_id AND r.step_id = p.step_id AND r.direction = 'output' AND r.artifact_id IS NOT NULL
UNION ALL
SELECT 'step:' || r.run_id || '/' || r.step_id
FROM artifact_refs r
WHERE r.artifact_id = p.artifact_id AND r.direction = 'input'
UNION ALL
SELECT 'step:' || e.run_id || '/' || e.target_id
FROM parameter_edges e
WHERE e.run_id = p.run_id AND e.source_id = p.step_id

-- name: lineage_edges
-- The edges leaving or entering the found steps ($1: the found node ids, as one JSON array of
-- strings; the caller keeps those whose other end was found too, a set lookup where a join here would
-- compare every pair), one row per (source, target, kind) with the names the steps give it, distinct
-- and sorted: an artifact's names in the step's outputs (produced) or inputs (consumed); for a
-- parameter edge, the input parameters of the target step it fed.
WITH s AS MATERIALIZED (
    SELECT substr(j.id, 6, strpos(j.id, '/') - 6) AS run_id, substr(j.id, strpos(j.id, '/') + 1) AS step_id
    FROM jsonb_array_elements_text($1::text::jsonb) AS j (id)
    WHERE j.id LIKE 'step:%'
)
SELECT CASE r.direction WHEN 'output' THEN 'step:' || r.run_id || '/' || r.step_id ELSE 'artifact:' || r.artifact_id END
           AS source,
       CASE r.direction WHEN 'output' THEN 'artifact:' || r.artifact_id ELSE 'step:' || r.run_id || '/' || r.step_id END
           AS target,
       CASE r.direction WHEN 'output' THEN 'produced' ELSE 'consumed' END AS kind,
       array_agg(DISTINCT r.name ORDER BY r.name) AS names
FROM s JOIN artifact_refs r ON r.run_id = s.run_id AND r.step_id = s.step_id
WHERE r.artifact_id IS NOT NULL
GROUP BY r.run_id, r.step_id, r.artifact_id, r.direction
UNION ALL
SELECT 'step:' || e.run_id || '/' || e.source_id, 'step:' || e.run_id || '/' || e.target_id, 'parameter', e.names
FROM s JOIN parameter_edges e ON e.run_id = s.run_id AND e.source_id = s.step_id;

-- name: lineage_nodes
-- The summaries of the found nodes ($1: their ids, as one JSON array of strings): a step's (with its
-- run's namespace, name and pipeline) or an artifact's, the other kind's columns null.
WITH f AS MATERIALIZED (
    SELECT j.id,
           CASE WHEN j.id LIKE 'artifact:%' THEN substr(j.id, 10)::bigint END AS artifact_id,
           CASE WHEN j.id LIKE 'step:%' THEN substr(j.id, 6, strpos(j.id, '/') - 6) END AS run_id,
           CASE WHEN j.id LIKE 'step:%' THEN substr(j.id, strpos(j.id, '/') + 1) END AS step_id
    FROM jsonb_array_elements_text($1::text::jsonb) AS j (id)
)
SELECT f.id, f.run_id, f.step_id AS node_id, s.name, s.display_name, s.type, s.template, s.phase, s.started_at,
       s.finished_at, r.namespace, r.name AS run_name, r.pipeline_name,
       NULL::bigint AS artifact_id, NULL::text AS uri, NULL::text AS state, NULL::bigint AS size
FROM f
JOIN runs r ON r.id = f.run_id
LEFT JOIN steps s ON s.run_id = f.run_id AND s.id = f.step_id
UNION ALL
SELECT f.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, a.id, a.uri, a.state, a.size
FROM f JOIN artifacts a ON a.id = f.artifact_id;

-- name: lineage_step_exists
-- The root step and its run's namespace.
SELECT r.namespace FROM steps s JOIN runs r ON r.id = s.run_id WHERE s.run_id = $1 AND s.id = $2;

-- name: lineage_run_exists
SELECT namespace FROM runs WHERE id = $1;

-- name: lineage_artifact_by_id
SELECT id FROM artifacts WHERE id = $1;

-- name: lineage_artifact_by_uri
SELECT id FROM artifacts WHERE uri = $1;

-- name: lineage_artifact_readable
-- An artifact is readable when a step of a readable namespace produced or consumed it.
SELECT EXISTS (
    SELECT 1 FROM artifact_refs r JOIN runs x ON x.id = r.run_id
    WHERE r.artifact_id = $1 AND x.namespace = ANY ($2::text[])
);

-- name: lineage_run_members
-- A run's members in the graph: its steps with recorded inputs or outputs (an S3 artifact or a
-- parameter). Structural nodes (step groups, task groups) carry no lineage and are left out.
SELECT 'step:' || s.run_id || '/' || s.id AS id
FROM steps s
WHERE s.run_id = $1
  AND (EXISTS (SELECT 1 FROM artifact_refs r
               WHERE r.run_id = s.run_id AND r.step_id = s.id AND r.artifact_id IS NOT NULL)
       OR EXISTS (SELECT 1 FROM parameters p
                  WHERE p.run_id = s.run_id AND p.step_id = s.id AND p.direction IN ('input', 'output')))
ORDER BY s.id;
