-- Lineage: the graph of steps and artifacts (see runledger/store/lineage_graph.py for the model).
--
-- Node ids are the API's own: 'step:<run id>/<node id>' and 'artifact:<artifacts.id>'. Run ids
-- never hold a '/', so a step id splits at its first one. lineage_walk is composed in Python from
-- the blocks below: {neighbours} is lineage_upstream or lineage_downstream, and {producers} and
-- {ancestor} (there and in lineage_edges) are lineage_producers and lineage_ancestor. No block
-- holds a literal brace.

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
            WHERE NOT EXISTS (SELECT 1 FROM unnest(w.seen) AS s (id) WHERE s.id = c.id)
            ORDER BY c.id
            LIMIT cap.room + 1
        ) n
    ) hop
    WHERE w.depth < $2 AND cardinality(w.frontier) > 0 AND NOT w.truncated
)
SELECT depth, frontier AS ids, truncated FROM walk ORDER BY depth;

-- name: lineage_upstream
-- What the node p came from: the artifacts a step consumed, the steps that produced an artifact,
-- the steps whose output parameters fed a step's inputs (lineage_producers gives the candidates
-- for each input value, and at the same time says whether the value is distinctive).
SELECT 'artifact:' || r.artifact_id AS id
FROM artifact_refs r
WHERE r.run_id = p.run_id AND r.step_id = p.step_id AND r.direction = 'input' AND r.artifact_id IS NOT NULL
UNION ALL
SELECT 'step:' || r.run_id || '/' || r.step_id
FROM artifact_refs r
WHERE r.artifact_id = p.artifact_id AND r.direction = 'output'
UNION ALL
SELECT 'step:' || c.run_id || '/' || c.source_id
FROM (
    SELECT DISTINCT v.run_id, source.id AS source_id, v.step_id AS target_id
    FROM parameters v
    JOIN steps sb ON sb.run_id = v.run_id AND sb.id = v.step_id
    CROSS JOIN LATERAL ({producers}) producers
    CROSS JOIN unnest(producers.ids) AS source (id)
    WHERE v.run_id = p.run_id AND v.step_id = p.step_id AND v.direction = 'input'
      AND v.value <> '' AND NOT v.truncated AND cardinality(producers.ids) <= 8 AND source.id <> v.step_id
      -- A scalar subquery: one primary-key lookup per candidate, never a scan of a big run's steps.
      AND (SELECT sa.finished_at FROM steps sa WHERE sa.run_id = v.run_id AND sa.id = source.id) <= sb.started_at
) c
WHERE {ancestor}

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
SELECT 'step:' || c.run_id || '/' || c.target_id
FROM (
    SELECT DISTINCT o.run_id, o.step_id AS source_id, i.step_id AS target_id
    FROM (
        -- OFFSET 0: only distinctive values go on to meet the inputs, however many hold the others.
        SELECT v.run_id, v.step_id, v.value, sa.finished_at
        FROM parameters v
        JOIN steps sa ON sa.run_id = v.run_id AND sa.id = v.step_id
        CROSS JOIN LATERAL ({producers}) producers
        WHERE v.run_id = p.run_id AND v.step_id = p.step_id AND v.direction = 'output'
          AND v.value <> '' AND NOT v.truncated AND cardinality(producers.ids) <= 8
        OFFSET 0
    ) o
    JOIN parameters i ON i.run_id = o.run_id AND i.direction = 'input' AND i.step_id <> ''
                     AND md5(i.value) = md5(o.value) AND i.value = o.value AND NOT i.truncated
    WHERE i.step_id <> o.step_id
      AND o.finished_at <= (SELECT sb.started_at FROM steps sb WHERE sb.run_id = i.run_id AND sb.id = i.step_id)
) c
WHERE {ancestor}

-- name: lineage_producers
-- The steps of run v.run_id with an output parameter holding the value v.value, at most 9 of them
-- (parameters_by_step_value finds them). Parameter edges are inferred from equal values, since
-- Argo records resolved values only: A fed B when an input of B equals an output of A in the same
-- run, the value non-empty, untruncated and distinctive (held by at most 8 outputs in the run: a
-- pod, its retry node and the DAGs forwarding its outputs hold the same value, while a value like
-- "true" output by every step would link each step to all that follow), A != B, A finished no
-- later than B started, and A is an ancestor of B (lineage_ancestor).
SELECT coalesce(array_agg(x.step_id), ARRAY[]::text[]) AS ids
FROM (
    SELECT x.step_id FROM parameters x
    WHERE x.run_id = v.run_id AND x.direction = 'output' AND x.step_id <> ''
      AND md5(x.value) = md5(v.value) AND x.value = v.value AND NOT x.truncated
    LIMIT 9
) x

-- name: lineage_ancestor
-- Step c.source_id is an ancestor of step c.target_id along the node children Argo records (a DAG
-- dependency, an earlier step group): walked up from the target one index lookup at a time
-- (OFFSET 0 keeps each lookup on step_edges_by_child, however big the run) and stopped as soon as
-- the source is found. Checked last, on distinct candidate pairs.
EXISTS (
    WITH RECURSIVE up (id) AS (
        SELECT e.parent_id FROM step_edges e WHERE e.run_id = c.run_id AND e.child_id = c.target_id
      UNION
        SELECT e.parent_id
        FROM up CROSS JOIN LATERAL (
            SELECT e.parent_id FROM step_edges e WHERE e.run_id = c.run_id AND e.child_id = up.id OFFSET 0
        ) e
    )
    SELECT 1 FROM up WHERE up.id = c.source_id
)

-- name: lineage_edges
-- Every edge among the found nodes: steps ($1 run ids, $2 node ids) and artifacts ($3), with the
-- names the steps give them (an artifact's name in the step's inputs or outputs; for a parameter
-- edge, the input parameters of the target step). Parameter edges follow the rules of
-- lineage_producers, written for a set: the found steps' parameters are grouped by (run, value),
-- so candidate pairs come from hashing rather than from comparing every output with every input,
-- and each value's producers are counted once.
WITH s (run_id, step_id) AS MATERIALIZED (
    SELECT * FROM unnest($1::text[], $2::text[])
), same_value AS (
    SELECT p.run_id, p.value,
           array_agg(p.step_id) FILTER (WHERE p.direction = 'output') AS sources,
           array_agg(p.step_id) FILTER (WHERE p.direction = 'input') AS targets,
           array_agg(p.name) FILTER (WHERE p.direction = 'input') AS names
    FROM s JOIN parameters p ON p.run_id = s.run_id AND p.step_id = s.step_id AND p.direction IN ('input', 'output')
    WHERE p.value <> '' AND NOT p.truncated
    GROUP BY p.run_id, p.value
    HAVING bool_or(p.direction = 'output') AND bool_or(p.direction = 'input') AND count(DISTINCT p.step_id) > 1
), pairs AS MATERIALIZED (
    SELECT v.run_id, o.source_id, i.target_id, array_agg(DISTINCT i.name) AS names
    FROM same_value v
    CROSS JOIN LATERAL ({producers}) producers
    CROSS JOIN unnest(v.sources) AS o (source_id)
    CROSS JOIN unnest(v.targets, v.names) AS i (target_id, name)
    WHERE cardinality(producers.ids) <= 8 AND o.source_id <> i.target_id
      -- Scalar subqueries: a primary-key lookup per candidate pair, never a scan of a run's steps.
      AND (SELECT sa.finished_at FROM steps sa WHERE sa.run_id = v.run_id AND sa.id = o.source_id)
          <= (SELECT sb.started_at FROM steps sb WHERE sb.run_id = v.run_id AND sb.id = i.target_id)
    GROUP BY v.run_id, o.source_id, i.target_id
)
SELECT 'step:' || r.run_id || '/' || r.step_id AS source, 'artifact:' || r.artifact_id AS target,
       'produced' AS kind, ARRAY[r.name] AS names
FROM s JOIN artifact_refs r ON r.run_id = s.run_id AND r.step_id = s.step_id AND r.direction = 'output'
WHERE r.artifact_id = ANY ($3::bigint[])
UNION ALL
SELECT 'artifact:' || r.artifact_id, 'step:' || r.run_id || '/' || r.step_id, 'consumed', ARRAY[r.name]
FROM s JOIN artifact_refs r ON r.run_id = s.run_id AND r.step_id = s.step_id AND r.direction = 'input'
WHERE r.artifact_id = ANY ($3::bigint[])
UNION ALL
SELECT 'step:' || c.run_id || '/' || c.source_id, 'step:' || c.run_id || '/' || c.target_id, 'parameter', c.names
FROM pairs c
WHERE {ancestor};

-- name: lineage_step_summaries
SELECT f.run_id, f.step_id AS node_id, s.name, s.display_name, s.type, s.template, s.phase, s.started_at,
       s.finished_at, r.namespace, r.name AS run_name, r.pipeline_name
FROM unnest($1::text[], $2::text[]) AS f (run_id, step_id)
JOIN runs r ON r.id = f.run_id
LEFT JOIN steps s ON s.run_id = f.run_id AND s.id = f.step_id;

-- name: lineage_artifact_summaries
SELECT a.id, a.uri, a.state, a.size FROM artifacts a WHERE a.id = ANY ($1::bigint[]);

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
