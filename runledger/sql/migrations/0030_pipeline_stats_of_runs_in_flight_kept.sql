-- The figures of the runs in flight kept in two small tables, a row per run and template, by the same
-- statement that keeps the rollups (stats_apply), in the transaction that changes the run.
--
-- Since 0021 the rollups hold finished runs only and a read worked the figures of the runs in flight out of
-- their rows (stats_facts) on every request: at a million runs, with ~500 in flight, 40 ms of a 30-day read
-- of every pipeline, ten times the read of the rollups themselves. Now a read takes them as rows, beside the
-- rollups' (the views stats_rows and stats_rows_causes). A write pays for its own run: its figures are worked
-- out once, after the change (a run's rows are replaced, not added to, so nothing is taken before), and only
-- the rows that differ are written. A run finishing leaves these tables as it enters the rollups, and one
-- going back to Running comes back. No two runs share a row, so writers of different runs never wait on
-- each other here (0021 took the runs in flight out of the shared rollup rows for that).

-- As stats_rollup's rows, but of one run (run_id) and in its own namespace only (never '*').
CREATE TABLE stats_live (
    run_id text NOT NULL,
    LIKE stats_rollup INCLUDING DEFAULTS,
    PRIMARY KEY (run_id, template)
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

CREATE TABLE stats_live_causes (
    run_id text NOT NULL,
    LIKE stats_rollup_causes INCLUDING DEFAULTS,
    PRIMARY KEY (run_id, template, cause)
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- Makes the rows of the runs `ids` what their stored rows say now: those in flight, their figures (as
-- stats_facts works them out); the others (finished, or not stored), none. Idempotent; a row that would not
-- change is not written.
CREATE FUNCTION stats_live_keep(ids text[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
WITH facts AS MATERIALIZED (
    SELECT r.id AS run_id, f.*
    FROM runs r CROSS JOIN LATERAL stats_facts(ARRAY[r.id]) AS f
    WHERE r.id = ANY (ids) AND r.phase NOT IN ('Succeeded', 'Failed', 'Error')
), fresh AS MATERIALIZED (
    -- 'h' rows hold zeros in every sum but n (their bucket's count), as in stats_apply.
    SELECT run_id, pipeline, template, day AS start, namespace,
           coalesce(sum(n) FILTER (WHERE kind = 'm'), 0)::bigint AS n, sum(succeeded)::bigint AS succeeded,
           sum(failed)::bigint AS failed, sum(other)::bigint AS other, sum(duration_n)::bigint AS duration_n,
           sum(duration_sum) AS duration_sum, sum(queue_n)::bigint AS queue_n, sum(queue_sum) AS queue_sum,
           sum(retries)::bigint AS retries, sum(flaky)::bigint AS flaky, sum(cpu)::bigint AS cpu,
           sum(memory)::bigint AS memory, sum(gpu)::bigint AS gpu, sum(resources_n)::bigint AS resources_n,
           stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'duration') AS duration_hist,
           stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'queue') AS queue_hist,
           stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'step_duration')
               AS step_duration_hist,
           stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'step_queue')
               AS step_queue_hist
    FROM facts WHERE kind IN ('m', 'h')
    GROUP BY run_id, pipeline, template, day, namespace
), fresh_causes AS MATERIALIZED (
    SELECT run_id, pipeline, template, day AS start, namespace, cause, sum(n)::bigint AS n
    FROM facts WHERE kind = 'c'
    GROUP BY run_id, pipeline, template, day, namespace, cause
), gone AS (
    DELETE FROM stats_live l
    WHERE l.run_id = ANY (ids)
      AND NOT EXISTS (SELECT FROM fresh f WHERE f.run_id = l.run_id AND f.template = l.template)
), put AS (
    INSERT INTO stats_live AS l
    SELECT * FROM fresh ORDER BY run_id, template
    ON CONFLICT (run_id, template) DO UPDATE SET
        pipeline = excluded.pipeline, start = excluded.start, namespace = excluded.namespace, n = excluded.n,
        succeeded = excluded.succeeded, failed = excluded.failed, other = excluded.other,
        duration_n = excluded.duration_n, duration_sum = excluded.duration_sum, queue_n = excluded.queue_n,
        queue_sum = excluded.queue_sum, retries = excluded.retries, flaky = excluded.flaky, cpu = excluded.cpu,
        memory = excluded.memory, gpu = excluded.gpu, resources_n = excluded.resources_n,
        duration_hist = excluded.duration_hist, queue_hist = excluded.queue_hist,
        step_duration_hist = excluded.step_duration_hist, step_queue_hist = excluded.step_queue_hist
    WHERE (l.*) IS DISTINCT FROM (excluded.*)
), gone_causes AS (
    DELETE FROM stats_live_causes l
    WHERE l.run_id = ANY (ids)
      AND NOT EXISTS (SELECT FROM fresh_causes f
                      WHERE f.run_id = l.run_id AND f.template = l.template AND f.cause = l.cause)
), put_causes AS (
    INSERT INTO stats_live_causes AS l
    SELECT * FROM fresh_causes ORDER BY run_id, template, cause
    ON CONFLICT (run_id, template, cause) DO UPDATE SET
        pipeline = excluded.pipeline, start = excluded.start, namespace = excluded.namespace, n = excluded.n
    WHERE (l.*) IS DISTINCT FROM (excluded.*)
)
SELECT
$$;

-- The rollups' statement (0024) under a new name; stats_apply keeps its name and signature, the one
-- statement every writer calls, and now keeps the runs in flight's rows as well.
ALTER FUNCTION stats_apply(text[], stats_delta[]) RENAME TO stats_rollups_apply;

CREATE FUNCTION stats_apply(ids text[], old stats_delta[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM stats_rollups_apply(ids, old);
    PERFORM stats_live_keep(ids);
END
$$;

-- What a read adds up: the rollups' rows, and the runs in flight's, each also under '*' as the rollups keep
-- every namespace at once. The reads' predicates (pipeline, template, start, namespace) reach both tables.
CREATE VIEW stats_rows AS
SELECT pipeline, template, start, namespace, n, succeeded, failed, other, duration_n, duration_sum, queue_n,
       queue_sum, retries, flaky, cpu, memory, gpu, resources_n, duration_hist, queue_hist, step_duration_hist,
       step_queue_hist
FROM stats_rollup
UNION ALL
SELECT l.pipeline, l.template, l.start, ns.namespace, l.n, l.succeeded, l.failed, l.other, l.duration_n,
       l.duration_sum, l.queue_n, l.queue_sum, l.retries, l.flaky, l.cpu, l.memory, l.gpu, l.resources_n,
       l.duration_hist, l.queue_hist, l.step_duration_hist, l.step_queue_hist
FROM stats_live l CROSS JOIN LATERAL (VALUES (l.namespace), ('*')) AS ns (namespace);

CREATE VIEW stats_rows_causes AS
SELECT pipeline, template, start, namespace, cause, n FROM stats_rollup_causes
UNION ALL
SELECT l.pipeline, l.template, l.start, ns.namespace, l.cause, l.n
FROM stats_live_causes l CROSS JOIN LATERAL (VALUES (l.namespace), ('*')) AS ns (namespace);

SELECT stats_live_keep(ARRAY(SELECT id FROM runs WHERE phase NOT IN ('Succeeded', 'Failed', 'Error')));
