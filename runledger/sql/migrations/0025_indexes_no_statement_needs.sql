-- Storage: indexes that no statement needs, or that another index already serves, dropped or merged.
-- Each was written with every row; together they were 11 % of all bytes per run on the 20,000-run query
-- benchmark and 8 % on the peer dataset (docs/benchmarks.md, "Storage per run").
--
-- transitions_by_run (run_id, at, id): a run's timeline (list_transitions) and KFP's run history
-- (kfp_run_transitions) find their rows through the unique key (run_id, step_id, to_phase, at), whose
-- first column is the run; the few dozen rows of a run are then sorted by (at, id). The event feed
-- reads by id (the primary key).
DROP INDEX IF EXISTS transitions_by_run;

-- parameters_by_step_value (run_id, direction, md5(value)) WHERE step_id <> '': lineage inferred
-- parameter edges at read time through it; since 0022 the edges are stored, and the one statement
-- left that read it, the writer's inference (parameter_edges_inferred: a run's input and output
-- parameters, grouped by value), reads the same rows through the primary key (run_id, step_id,
-- direction, name) as fast (0.7 against 1.1 ms for ten runs at 20,000 runs). No statement probes
-- a step parameter by its value.
DROP INDEX IF EXISTS parameters_by_step_value;

-- artifacts kept two indexes of the same column: the unique key on uri (default operator class) and
-- artifacts_by_uri_prefix (uri text_pattern_ops) for listings by URI prefix. One unique index in
-- text_pattern_ops serves both: its equality is text's own (=, what ON CONFLICT (uri) and every
-- lookup by uri use), and its byte-wise order is what a prefix range needs. Built before the old
-- ones go, so uri is never without a unique index.
CREATE UNIQUE INDEX artifacts_uri_unique ON artifacts (uri text_pattern_ops);
ALTER TABLE artifacts DROP CONSTRAINT IF EXISTS artifacts_uri_key;
DROP INDEX IF EXISTS artifacts_by_uri_prefix;
ALTER INDEX artifacts_uri_unique RENAME TO artifacts_uri_key;

-- Run arguments kept two indexes of their value: parameters_by_value on (name, md5(value), listing
-- key), for equality in the listing's order, and parameters_by_value_prefix on (name, left(value,
-- 200) text_pattern_ops, run_id) for prefix ranges. One index on (name, left(value, 200)
-- text_pattern_ops, listing key) serves both: equality on the first 200 characters (text's own =,
-- part of text_pattern_ops) hands over the runs holding the value newest first as before, the
-- listing rechecks the whole value, and a prefix is a range of it. A short value (most arguments)
-- is smaller than its 32-character md5; a long one costs its first 200 characters, as the prefix
-- index already did. The listing compares left(value, 200) (runledger/store/run_listing.py), and the
-- planner's joint statistics (0008) follow the indexed expression.
CREATE INDEX parameters_by_value_and_prefix ON parameters (name, left(value, 200) text_pattern_ops, run_sort_at DESC, run_id DESC)
    WHERE step_id = '';
DROP INDEX IF EXISTS parameters_by_value;
DROP INDEX IF EXISTS parameters_by_value_prefix;
ALTER INDEX parameters_by_value_and_prefix RENAME TO parameters_by_value;

DROP STATISTICS IF EXISTS parameters_by_step_name_value;
CREATE STATISTICS parameters_by_step_name_value (ndistinct, dependencies, mcv)
    ON step_id, name, value, left(value, 200) FROM parameters;
ANALYZE parameters;
