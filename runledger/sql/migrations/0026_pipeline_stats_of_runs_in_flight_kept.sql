-- The figures of the runs in flight kept in two small tables, a row per run and template, by the same
-- statement that keeps the rollups (stats_apply), in the transaction that changes the run.
--
-- Since 0021 the rollups hold finished runs only and a read worked the figures of the runs in flight out of
-- their rows (stats_facts) on every request: at a million runs, with ~500 in flight, 40 ms of a 30-day read
-- of every pipeline, ten times the read of the rollups themselves. Now a read takes them as rows, beside the
-- rollups' (the views stats_rows and stats_rows_causes). A write pays for what it changed, not for its run:
-- the writer names the steps it wrote (or whose pods, or child edges, it wrote), their figures are taken
-- before and after the change, and the difference is added to the run's rows, with the run's own figures
-- (one row of runs). A step of a fan-out of 2,000 costs what a step of a run of ten does. A run first seen in
-- flight, one going back to Running, or one whose pipeline, day or namespace changed has its rows worked
-- out whole; a run finishing leaves these tables as it enters the rollups. No two runs share a row, so
-- writers of different runs never wait on each other here (0021 took the runs in flight out of the shared
-- rollup rows for that).

-- As stats_rollup's rows, but of one run (run_id) and in its own namespace only (never '*'). A row whose
-- figures are all zero is not kept (a template of Retry steps alone, none retried yet).
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

-- A stats_delta of one run.
CREATE TYPE stats_run_delta AS (
    run_id       text,
    kind         text,
    namespace    text,
    pipeline     text,
    template     text,
    day          timestamptz,
    cause        text,
    metric       text,
    bucket       smallint,
    n            bigint,
    succeeded    bigint,
    failed       bigint,
    other        bigint,
    duration_n   bigint,
    duration_sum numeric,
    queue_n      bigint,
    queue_sum    numeric,
    retries      bigint,
    flaky        bigint,
    cpu          bigint,
    memory       bigint,
    gpu          bigint,
    resources_n  bigint
);

-- What the stored rows of the runs `ids` say, run by run: their own figures (a row of runs, its failed step and
-- that step's pod), and those of their steps (step_ids NULL: every one; else only the steps (step_runs[i],
-- step_ids[i]): a Pod, Container, HTTP or Plugin step's own figures with its pod's, a Retry step's with its
-- child edges'). Every figure is a count or a sum of such facts, so those of some steps taken before a change
-- and after it differ by what the change did. stats_facts (0021) is these added up across runs.
-- Planned on every call (a custom plan): a plan kept for the session would be one made when the tables were
-- small (a scan of steps, say), and stay while they grow.
CREATE FUNCTION stats_run_facts(ids text[], step_runs text[], step_ids text[]) RETURNS SETOF stats_run_delta
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
BEGIN
IF cardinality(ids) = 0 THEN  -- most calls of a batch of runs in flight (no run finished, or first seen)
    RETURN;
END IF;
RETURN QUERY
WITH r AS (
    SELECT r.id, r.namespace, r.name, coalesce(r.pipeline_name, '') AS pipeline,
           date_trunc('day', r.sort_at, 'UTC') AS day, r.phase, r.message, r.failed_step,
           r.created_at, r.started_at, r.finished_at, r.resources_duration
    FROM runs r WHERE r.id = ANY (ids)
), chosen AS (
    -- Each step's row at most once, found by its key: a run's other steps are not read.
    SELECT s.* FROM r JOIN steps s ON s.run_id = r.id WHERE step_ids IS NULL
    UNION ALL
    SELECT s.* FROM (SELECT DISTINCT * FROM unnest(step_runs, step_ids)) AS t (run_id, id)
    JOIN steps s ON s.run_id = t.run_id AND s.id = t.id
    WHERE step_ids IS NOT NULL AND t.run_id = ANY (ids)
), s AS (
    -- Steps that run something: pods, containers, HTTP and plugin steps.
    SELECT r.id AS run_id, r.namespace, r.pipeline, r.day, coalesce(nullif(s.template, ''), '(none)') AS template,
           s.phase,
           CASE WHEN s.phase IN ('Succeeded', 'Failed', 'Error')
                THEN extract(epoch FROM s.finished_at - s.started_at) END AS duration,
           extract(epoch FROM p.started_at - s.started_at) AS queue,
           CASE WHEN s.phase IN ('Failed', 'Error')
                THEN stats_failure_cause(p.termination_reason, coalesce(s.exit_code, p.exit_code), s.message) END AS cause,
           s.resources_duration AS rd
    FROM r JOIN chosen s ON s.run_id = r.id
    LEFT JOIN step_pods p ON p.run_id = s.run_id AND p.node_id = s.id
        AND p.namespace = r.namespace AND p.workflow_name = r.name
    WHERE s.type IN ('Pod', 'Container', 'HTTP', 'Plugin')
), retried AS (
    SELECT r.id AS run_id, r.namespace, r.pipeline, r.day, coalesce(nullif(s.template, ''), '(none)') AS template,
           greatest(count(e.child_id) - 1, 0) AS retries,
           (s.phase = 'Succeeded' AND count(e.child_id) > 1)::integer AS flaky
    FROM r JOIN chosen s ON s.run_id = r.id AND s.type = 'Retry'
    LEFT JOIN step_edges e ON e.run_id = s.run_id AND e.parent_id = s.id
    GROUP BY r.id, r.namespace, r.pipeline, r.day, s.id, s.template, s.phase
), run_facts AS (
    SELECT r.id AS run_id, r.namespace, r.pipeline, r.day, r.phase,
           CASE WHEN r.phase IN ('Succeeded', 'Failed', 'Error')
                THEN extract(epoch FROM r.finished_at - r.started_at) END AS duration,
           extract(epoch FROM r.started_at - r.created_at) AS queue,
           CASE WHEN r.phase IN ('Failed', 'Error') THEN
               CASE WHEN fs.id IS NOT NULL
                    THEN stats_failure_cause(fp.termination_reason, coalesce(fs.exit_code, fp.exit_code),
                                             coalesce(fs.message, r.message))
                    ELSE stats_failure_cause(NULL, NULL, r.message) END
           END AS cause,
           r.resources_duration AS rd
    FROM r
    -- Looked up by key, run by run, and only for a failed run: joined, a batch of runs hashed every step.
    LEFT JOIN LATERAL (
        SELECT fs.id, fs.exit_code, fs.message FROM steps fs
        WHERE r.phase IN ('Failed', 'Error') AND fs.run_id = r.id AND fs.id = r.failed_step ->> 'id' LIMIT 1
    ) AS fs ON true
    LEFT JOIN step_pods fp ON fp.run_id = r.id AND fp.node_id = fs.id
        AND fp.namespace = r.namespace AND fp.workflow_name = r.name
), facts AS (
    -- One row per run ('') and per running step (its template), with what each holds.
    SELECT run_id, namespace, pipeline, day, '' AS template, phase, duration, queue, cause, rd, 0 AS retries,
           0 AS flaky, 'duration' AS d_metric, 'queue' AS q_metric
    FROM run_facts
    UNION ALL
    SELECT run_id, namespace, pipeline, day, template, phase, duration, queue, cause, rd, 0, 0, 'duration', 'queue'
    FROM s
    UNION ALL
    -- The run's row also holds the histograms of all its steps, and their retries.
    SELECT run_id, namespace, pipeline, day, '', NULL, duration, queue, NULL, NULL, 0, 0, 'step_duration',
           'step_queue'
    FROM s
    UNION ALL
    SELECT run_id, namespace, pipeline, day, template, NULL, NULL, NULL, NULL, NULL, retries, flaky, NULL, NULL
    FROM retried
    UNION ALL
    SELECT run_id, namespace, pipeline, day, '', NULL, NULL, NULL, NULL, NULL, retries, flaky, NULL, NULL FROM retried
)
SELECT run_id, 'm', namespace, pipeline, template, day, NULL, NULL, NULL::smallint,
       count(phase), count(*) FILTER (WHERE phase = 'Succeeded'), count(*) FILTER (WHERE phase IN ('Failed', 'Error')),
       count(phase) FILTER (WHERE phase NOT IN ('Succeeded', 'Failed', 'Error')),
       count(duration) FILTER (WHERE d_metric = 'duration' AND duration >= 0),
       coalesce(sum(duration) FILTER (WHERE d_metric = 'duration' AND duration >= 0), 0),
       count(queue) FILTER (WHERE q_metric = 'queue' AND queue >= 0),
       coalesce(sum(queue) FILTER (WHERE q_metric = 'queue' AND queue >= 0), 0),
       sum(retries)::bigint, sum(flaky)::bigint,
       coalesce(sum((rd ->> 'cpu')::bigint), 0)::bigint, coalesce(sum((rd ->> 'memory')::bigint), 0)::bigint,
       -- Looking for a GPU key only in documents that name one: most name cpu and memory alone.
       coalesce(sum(stats_gpu_seconds(rd)) FILTER (WHERE strpos(rd::text, 'gpu') > 0), 0)::bigint,
       count(*) FILTER (WHERE rd <> '{}')
FROM facts GROUP BY run_id, namespace, pipeline, template, day
UNION ALL
SELECT run_id, 'c', namespace, pipeline, template, day, cause, NULL, NULL, count(*),
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
FROM facts WHERE cause IS NOT NULL GROUP BY run_id, namespace, pipeline, template, day, cause
UNION ALL
SELECT run_id, 'h', namespace, pipeline, template, day, NULL, metric, stats_bucket(value), count(*),
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
FROM facts, LATERAL (VALUES (d_metric, duration), (q_metric, queue)) AS v (metric, value)
WHERE value >= 0 AND metric IS NOT NULL
GROUP BY run_id, namespace, pipeline, template, day, metric, stats_bucket(value);
END
$$;

-- What a run's stored rows say (0021, 0024), now stats_run_facts added up across runs: one body for both. The
-- switch with_steps goes with its one caller (stats_in_flight, which migration 0027 drops).
DROP FUNCTION stats_facts(text[], boolean);

CREATE FUNCTION stats_facts(ids text[]) RETURNS SETOF stats_delta
LANGUAGE sql STABLE AS $$
    SELECT kind, namespace, pipeline, template, day, cause, metric, bucket, sum(n)::bigint,
           sum(succeeded)::bigint, sum(failed)::bigint, sum(other)::bigint, sum(duration_n)::bigint,
           sum(duration_sum), sum(queue_n)::bigint, sum(queue_sum), sum(retries)::bigint, sum(flaky)::bigint,
           sum(cpu)::bigint, sum(memory)::bigint, sum(gpu)::bigint, sum(resources_n)::bigint
    FROM stats_run_facts(ids, NULL, NULL)
    GROUP BY kind, namespace, pipeline, template, day, cause, metric, bucket
$$;

-- The figures of the runs `ids` in flight now (a finished run: none), of their steps (step_runs, step_ids) as
-- in stats_run_facts: what stats_live_apply takes as `old`, before a change.
CREATE FUNCTION stats_live_facts(ids text[], step_runs text[], step_ids text[]) RETURNS SETOF stats_run_delta
LANGUAGE sql STABLE AS $$
    SELECT * FROM stats_run_facts(ARRAY(SELECT id FROM runs
                                        WHERE id = ANY (ids) AND phase NOT IN ('Succeeded', 'Failed', 'Error')),
                                  step_runs, step_ids)
$$;

-- Makes the rows of the runs `ids` what their stored rows say now, after a change to their steps (step_runs,
-- step_ids; NULL: any) whose figures were `old` before it (stats_live_facts). A run in flight whose rows
-- hold it under its pipeline, day and namespace has the difference added to them; one in flight without
-- (first seen, back to Running, moved) has them worked out whole; the others (finished, not stored) have none.
-- Only the rows that change are written.
CREATE FUNCTION stats_live_apply(ids text[], step_runs text[], step_ids text[], old stats_run_delta[])
RETURNS void
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    kept text[];
    whole text[];
BEGIN
    SELECT coalesce(array_agg(r.id) FILTER (WHERE l.run_id IS NOT NULL), '{}'),
           coalesce(array_agg(r.id) FILTER (WHERE l.run_id IS NULL), '{}')
    INTO kept, whole
    FROM runs r
    LEFT JOIN stats_live l ON l.run_id = r.id AND l.template = '' AND l.namespace = r.namespace
        AND l.pipeline = coalesce(r.pipeline_name, '') AND l.start = date_trunc('day', r.sort_at, 'UTC')
    WHERE r.id = ANY (ids) AND r.phase NOT IN ('Succeeded', 'Failed', 'Error');

    DELETE FROM stats_live WHERE run_id = ANY (ids) AND run_id <> ALL (kept);
    DELETE FROM stats_live_causes WHERE run_id = ANY (ids) AND run_id <> ALL (kept);

    WITH d AS MATERIALIZED (
        SELECT run_id, kind, namespace, pipeline, template, day, cause, metric, bucket, sum(n)::bigint AS n,
               sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed, sum(other)::bigint AS other,
               sum(duration_n)::bigint AS duration_n, sum(duration_sum) AS duration_sum,
               sum(queue_n)::bigint AS queue_n, sum(queue_sum) AS queue_sum, sum(retries)::bigint AS retries,
               sum(flaky)::bigint AS flaky, sum(cpu)::bigint AS cpu, sum(memory)::bigint AS memory,
               sum(gpu)::bigint AS gpu, sum(resources_n)::bigint AS resources_n
        FROM (
            SELECT * FROM stats_run_facts(whole, NULL, NULL)
            UNION ALL
            SELECT * FROM stats_run_facts(kept, step_runs, step_ids)
            UNION ALL
            SELECT o.run_id, o.kind, o.namespace, o.pipeline, o.template, o.day, o.cause, o.metric, o.bucket,
                   -o.n, -o.succeeded, -o.failed, -o.other, -o.duration_n, -o.duration_sum, -o.queue_n,
                   -o.queue_sum, -o.retries, -o.flaky, -o.cpu, -o.memory, -o.gpu, -o.resources_n
            FROM unnest(old) AS o WHERE o.run_id = ANY (kept)
        ) AS both_ways
        GROUP BY run_id, kind, namespace, pipeline, template, day, cause, metric, bucket
        HAVING sum(n) <> 0 OR sum(succeeded) <> 0 OR sum(failed) <> 0 OR sum(other) <> 0
            OR sum(duration_n) <> 0 OR sum(duration_sum) <> 0 OR sum(queue_n) <> 0 OR sum(queue_sum) <> 0
            OR sum(retries) <> 0 OR sum(flaky) <> 0 OR sum(cpu) <> 0 OR sum(memory) <> 0 OR sum(gpu) <> 0
            OR sum(resources_n) <> 0
    ), put AS (
        -- 'h' rows hold zeros in every sum but n (their bucket's count), as in stats_apply.
        INSERT INTO stats_live AS l
        SELECT run_id, pipeline, template, day, namespace,
               coalesce(sum(n) FILTER (WHERE kind = 'm'), 0), sum(succeeded), sum(failed), sum(other),
               sum(duration_n), sum(duration_sum), sum(queue_n), sum(queue_sum), sum(retries), sum(flaky),
               sum(cpu), sum(memory), sum(gpu), sum(resources_n),
               stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'duration'),
               stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'queue'),
               stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'step_duration'),
               stats_hist_sum(stats_hist_of(bucket, n)) FILTER (WHERE kind = 'h' AND metric = 'step_queue')
        FROM d WHERE kind IN ('m', 'h')
        GROUP BY run_id, pipeline, template, day, namespace ORDER BY run_id, template
        ON CONFLICT (run_id, template) DO UPDATE SET
            n = l.n + excluded.n, succeeded = l.succeeded + excluded.succeeded, failed = l.failed + excluded.failed,
            other = l.other + excluded.other, duration_n = l.duration_n + excluded.duration_n,
            duration_sum = l.duration_sum + excluded.duration_sum, queue_n = l.queue_n + excluded.queue_n,
            queue_sum = l.queue_sum + excluded.queue_sum, retries = l.retries + excluded.retries,
            flaky = l.flaky + excluded.flaky, cpu = l.cpu + excluded.cpu, memory = l.memory + excluded.memory,
            gpu = l.gpu + excluded.gpu, resources_n = l.resources_n + excluded.resources_n,
            duration_hist = stats_hist_add(l.duration_hist, excluded.duration_hist),
            queue_hist = stats_hist_add(l.queue_hist, excluded.queue_hist),
            step_duration_hist = stats_hist_add(l.step_duration_hist, excluded.step_duration_hist),
            step_queue_hist = stats_hist_add(l.step_queue_hist, excluded.step_queue_hist)
    )
    INSERT INTO stats_live_causes AS l
    SELECT run_id, pipeline, template, day, namespace, cause, sum(n)
    FROM d WHERE kind = 'c'
    GROUP BY run_id, pipeline, template, day, namespace, cause ORDER BY run_id, template, cause
    ON CONFLICT (run_id, template, cause) DO UPDATE SET n = l.n + excluded.n;

    -- A template's last step gone (or a cause's last failure): its row goes, as it would if worked out whole.
    DELETE FROM stats_live
    WHERE run_id = ANY (ids) AND n = 0 AND succeeded = 0 AND failed = 0 AND other = 0 AND duration_n = 0
      AND duration_sum = 0 AND queue_n = 0 AND queue_sum = 0 AND retries = 0 AND flaky = 0 AND cpu = 0
      AND memory = 0 AND gpu = 0 AND resources_n = 0 AND duration_hist = '{}' AND queue_hist = '{}'
      AND step_duration_hist = '{}' AND step_queue_hist = '{}';
    DELETE FROM stats_live_causes WHERE run_id = ANY (ids) AND n = 0;
END
$$;

-- The rows of the runs `ids` worked out afresh from their stored rows (to fill or check the tables).
CREATE FUNCTION stats_live_rebuild(ids text[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    DELETE FROM stats_live WHERE run_id = ANY (ids);
    DELETE FROM stats_live_causes WHERE run_id = ANY (ids);
    PERFORM stats_live_apply(ids, NULL, NULL, '{}');
END
$$;

-- The rollups' statement (0024) under a new name; stats_apply stays the one statement every writer calls,
-- and now keeps the runs in flight's rows as well: before changing runs, take SELECT * FROM
-- stats_contribution(ids) and SELECT * FROM stats_live_facts(ids, step_runs, step_ids); after,
-- SELECT stats_apply(ids, the first, step_runs, step_ids, the second).
ALTER FUNCTION stats_apply(text[], stats_delta[]) RENAME TO stats_rollups_apply;

CREATE FUNCTION stats_apply(ids text[], old stats_delta[], step_runs text[], step_ids text[],
                            old_live stats_run_delta[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Most writes are to runs in flight, which the rollups leave out.
    IF cardinality(old) > 0 OR EXISTS (SELECT FROM runs WHERE id = ANY (ids)
                                                       AND phase IN ('Succeeded', 'Failed', 'Error')) THEN
        PERFORM stats_rollups_apply(ids, old);
    END IF;
    PERFORM stats_live_apply(ids, step_runs, step_ids, old_live);
END
$$;

-- A rebuild of the rollups (after TRUNCATE of their tables) adds every stored run's contribution to them
-- alone: stats_live_rebuild keeps the runs in flight's.
CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    chunk text[];
BEGIN
    FOR chunk IN SELECT array_agg(id) FROM (SELECT id, (row_number() OVER (ORDER BY sort_at, id) - 1) / 10000 AS k
                                            FROM runs) AS r
                 GROUP BY k
    LOOP
        PERFORM stats_rollups_apply(chunk, '{}');
    END LOOP;
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

SELECT stats_live_rebuild(ARRAY(SELECT id FROM runs WHERE phase NOT IN ('Succeeded', 'Failed', 'Error')));
