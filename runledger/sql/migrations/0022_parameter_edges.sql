-- Lineage's parameter edges (step -> step in one run, an output parameter of the first fed an input of
-- the second), stored. They were inferred at read time, at every hop of every walk (~0.1 ms a step);
-- now the writer infers them once per change, in the transaction that changes the run's steps, step
-- edges or parameters (refresh_parameter_edges), so a walk follows stored rows like artifact edges.
--
-- The rules are those the reads applied (see runledger/store/lineage_graph.py): A -> B when an input
-- parameter of B equals an output parameter of A in the same run, the value non-empty and not
-- truncated, and distinctive (held by at most 8 output parameters in the run), A != B, A finished no
-- later than B started, and A is an ancestor of B along the node children Argo records. `names`: the
-- input parameters of B that A fed, sorted.

CREATE TABLE parameter_edges (
    run_id    text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    source_id text NOT NULL,
    target_id text NOT NULL,
    names     text[] NOT NULL,
    PRIMARY KEY (run_id, source_id, target_id)  -- downstream: a step's targets
);

CREATE INDEX parameter_edges_by_target ON parameter_edges (run_id, target_id, source_id);  -- upstream: a step's sources

-- The parameter edges of the runs `ids` as their stored rows say now: values are grouped per run, so
-- candidate pairs come from hashing, never from comparing every output with every input.
CREATE FUNCTION parameter_edges_inferred(ids text[])
RETURNS TABLE (run_id text, source_id text, target_id text, names text[])
LANGUAGE sql STABLE AS $$
    WITH same_value AS (
        SELECT p.run_id,
               array_agg(p.step_id) FILTER (WHERE p.direction = 'output') AS sources,
               array_agg(p.step_id) FILTER (WHERE p.direction = 'input') AS targets,
               array_agg(p.name) FILTER (WHERE p.direction = 'input') AS names
        FROM parameters p
        WHERE p.run_id = ANY (ids) AND p.direction IN ('input', 'output') AND p.step_id <> ''
          AND p.value <> '' AND NOT p.truncated
        GROUP BY p.run_id, p.value
        HAVING count(*) FILTER (WHERE p.direction = 'output') BETWEEN 1 AND 8 AND bool_or(p.direction = 'input')
    ), pairs AS MATERIALIZED (
        SELECT v.run_id, o.source_id, i.target_id, array_agg(DISTINCT i.name ORDER BY i.name) AS names
        FROM same_value v
        CROSS JOIN unnest(v.sources) AS o (source_id)
        CROSS JOIN unnest(v.targets, v.names) AS i (target_id, name)
        WHERE o.source_id <> i.target_id
          -- Scalar subqueries: a primary-key lookup per candidate pair, never a scan of a run's steps.
          AND (SELECT sa.finished_at FROM steps sa WHERE sa.run_id = v.run_id AND sa.id = o.source_id)
              <= (SELECT sb.started_at FROM steps sb WHERE sb.run_id = v.run_id AND sb.id = i.target_id)
        GROUP BY v.run_id, o.source_id, i.target_id
    )
    SELECT c.run_id, c.source_id, c.target_id, c.names
    FROM pairs c
    -- The ancestry, checked last on distinct pairs: walked up from the target one index lookup at a
    -- time (OFFSET 0 keeps each lookup on step_edges_by_child) and stopped once the source is found.
    WHERE EXISTS (
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
$$;

INSERT INTO parameter_edges (run_id, source_id, target_id, names)
SELECT * FROM parameter_edges_inferred(ARRAY(SELECT id FROM runs));
