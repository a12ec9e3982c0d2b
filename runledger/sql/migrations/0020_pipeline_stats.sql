-- Pipeline analytics (what fails, what waits, what costs) kept as rollups, so a question over a
-- million runs reads a few thousand rows instead of scanning them.
--
-- A run contributes to the rollup rows of its pipeline, namespace and creation day (UTC):
-- one row for the run itself (template '') and one per template of the steps that ran something.
-- stats_contribution(ids) works a run's contribution out from its stored rows (runs, steps,
-- step_edges, step_pods); the writers take it before and after they change a run, in the same
-- transaction, and stats_apply adds the difference. A run changing phase moves between columns of
-- the same rows, a replay of the same states changes nothing, and a run is never counted twice.
--
-- Counts and sums are exact. Durations are kept as counts per bucket of a fixed log-scale histogram
-- (8 buckets per doubling from 1 s; bucket 0 holds [0, 1 s)), which adds and subtracts exactly; a
-- percentile read back as its bucket's geometric middle is within 4.5 % of the true value (0.5 s
-- below one second).
--
-- The contribution is a pure function of the stored rows: a later change to it must rebuild the
-- rollups (TRUNCATE the three tables, then SELECT stats_rebuild()).

CREATE TYPE stats_delta AS (
    kind         text,       -- 'm' counts and sums, 'c' a failure cause, 'h' a histogram bucket
    namespace    text,
    pipeline     text,       -- '' for runs without a pipeline name
    template     text,       -- '' for the run itself
    day         timestamptz,  -- the UTC day of the run's creation (midnight)
    cause        text,       -- kind 'c'
    metric       text,       -- kind 'h': duration, queue (of the row's runs or steps); step_duration, step_queue
    bucket       smallint,   -- kind 'h'
    n            bigint,     -- 'm': runs (or steps); 'c', 'h': how many
    succeeded    bigint,
    failed       bigint,     -- Failed or Error
    other        bigint,     -- neither yet (Pending, Running) or never (Skipped, Omitted)
    duration_n   bigint,
    duration_sum numeric,    -- seconds, finished ones
    queue_n      bigint,
    queue_sum    numeric,    -- seconds from created (a step: its node) to running (a step: its pod's container)
    retries      bigint,     -- attempts beyond the first of retried steps
    flaky        bigint,     -- retried steps that succeeded on a later attempt
    cpu          bigint,     -- resourcesDuration seconds: cpu (1 core), memory (100Mi), GPUs (1 GPU)
    memory       bigint,
    gpu          bigint,
    resources_n  bigint      -- runs (steps) that report resourcesDuration
);

CREATE TABLE stats_rollup (
    pipeline     text NOT NULL,
    template     text NOT NULL,
    start        timestamptz NOT NULL,          -- the UTC day (midnight) the runs were created on
    namespace    text NOT NULL,              -- '*': every namespace (never a namespace's name)
    n            bigint NOT NULL DEFAULT 0,
    succeeded    bigint NOT NULL DEFAULT 0,
    failed       bigint NOT NULL DEFAULT 0,
    other        bigint NOT NULL DEFAULT 0,
    duration_n   bigint NOT NULL DEFAULT 0,
    duration_sum numeric NOT NULL DEFAULT 0,
    queue_n      bigint NOT NULL DEFAULT 0,
    queue_sum    numeric NOT NULL DEFAULT 0,
    retries      bigint NOT NULL DEFAULT 0,
    flaky        bigint NOT NULL DEFAULT 0,
    cpu          bigint NOT NULL DEFAULT 0,
    memory       bigint NOT NULL DEFAULT 0,
    gpu          bigint NOT NULL DEFAULT 0,
    resources_n  bigint NOT NULL DEFAULT 0,
    -- A pipeline's templates: one range of the key per namespace read.
    PRIMARY KEY (pipeline, namespace, start, template)
);

-- Every pipeline at once: the runs' rows of the namespaces read, one range each.
CREATE INDEX stats_rollup_runs ON stats_rollup (namespace, start) WHERE template = '';

CREATE TABLE stats_rollup_causes (
    pipeline  text NOT NULL,
    template  text NOT NULL,
    start     timestamptz NOT NULL,
    namespace text NOT NULL,
    cause     text NOT NULL,     -- OOMKilled, Evicted, DeadlineExceeded, ExitCode: <code>, Error: <class>, Unknown
    n         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (pipeline, namespace, start, template, cause)
);

CREATE INDEX stats_rollup_causes_runs ON stats_rollup_causes (namespace, start) WHERE template = '';

CREATE TABLE stats_rollup_buckets (
    pipeline  text NOT NULL,
    template  text NOT NULL,
    start     timestamptz NOT NULL,
    namespace text NOT NULL,
    metric    text NOT NULL,
    bucket    smallint NOT NULL,
    n         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (pipeline, namespace, start, template, metric, bucket)
);

CREATE INDEX stats_rollup_buckets_runs ON stats_rollup_buckets (namespace, start, metric) WHERE template = '';

-- The histogram bucket of a duration: 0 below a second, then 8 per doubling (ratio 2^(1/8)).
CREATE FUNCTION stats_bucket(seconds numeric) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN seconds IS NULL OR seconds < 0 THEN NULL
        WHEN seconds < 1 THEN 0
        ELSE least(1 + floor(8 * ln(seconds::double precision) / ln(2.0)), 32767)::smallint
    END
$$;

-- The value a bucket stands for: its geometric middle (0.5 s for bucket 0).
CREATE FUNCTION stats_bucket_value(bucket smallint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN bucket = 0 THEN 0.5 ELSE power(2.0, (bucket - 0.5) / 8.0) END
$$;

-- A message with its particulars (quoted names, numbers, ids) taken out, so failures alike group.
CREATE FUNCTION stats_message_class(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(btrim(regexp_replace(regexp_replace(regexp_replace(message,
        '''[^'']*''|"[^"]*"', '…', 'g'),
        '\m[0-9a-f]*[0-9][0-9a-f]*\M', 'N', 'gi'),
        '\s+', ' ', 'g')), 80)
$$;

-- Why a run or step failed, from its pod's termination reason, exit code and message, first match:
-- OOMKilled, Evicted, DeadlineExceeded, ExitCode: <code>, Error: <message class>, Unknown.
CREATE FUNCTION stats_failure_cause(reason text, exit_code integer, message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN reason = 'OOMKilled' OR message ~* '\mOOMKilled\M' THEN 'OOMKilled'
        WHEN reason = 'Evicted' OR message ~* '\mevicted\M|node was low on resource' THEN 'Evicted'
        WHEN reason = 'DeadlineExceeded'
             OR message ~* 'deadline ?exceeded|exceeded its deadline|max duration limit exceeded|activeDeadlineSeconds'
            THEN 'DeadlineExceeded'
        WHEN exit_code IS NOT NULL AND exit_code <> 0 THEN 'ExitCode: ' || exit_code
        WHEN message ~* 'exit code -?[1-9][0-9]*' THEN 'ExitCode: ' || substring(message FROM '(?i)exit code (-?[0-9]+)')
        WHEN nullif(btrim(message), '') IS NULL THEN 'Unknown'
        ELSE 'Error: ' || stats_message_class(message)
    END
$$;

-- GPU seconds: every resource whose name says gpu (nvidia.com/gpu, amd.com/gpu, ...).
CREATE FUNCTION stats_gpu_seconds(resources jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sum(value::bigint)::bigint FROM jsonb_each_text(resources) WHERE key ILIKE '%gpu%'
$$;

-- What the runs `ids` add to the rollups, as their rows stand now.
CREATE FUNCTION stats_contribution(ids text[]) RETURNS SETOF stats_delta
LANGUAGE sql STABLE AS $$
WITH r AS (
    SELECT r.id, r.namespace, r.name, coalesce(r.pipeline_name, '') AS pipeline,
           date_trunc('day', r.sort_at, 'UTC') AS day, r.phase, r.message, r.failed_step,
           r.created_at, r.started_at, r.finished_at, r.resources_duration
    FROM runs r WHERE r.id = ANY (ids)
), s AS (
    -- Steps that run something: pods, containers, HTTP and plugin steps.
    SELECT r.namespace, r.pipeline, r.day, coalesce(nullif(s.template, ''), '(none)') AS template, s.phase,
           CASE WHEN s.phase IN ('Succeeded', 'Failed', 'Error')
                THEN extract(epoch FROM s.finished_at - s.started_at) END AS duration,
           extract(epoch FROM p.started_at - s.started_at) AS queue,
           CASE WHEN s.phase IN ('Failed', 'Error')
                THEN stats_failure_cause(p.termination_reason, coalesce(s.exit_code, p.exit_code), s.message) END AS cause,
           s.resources_duration AS rd
    FROM r JOIN steps s ON s.run_id = r.id
    LEFT JOIN step_pods p ON p.run_id = s.run_id AND p.node_id = s.id
        AND p.namespace = r.namespace AND p.workflow_name = r.name
    WHERE s.type IN ('Pod', 'Container', 'HTTP', 'Plugin')
), retried AS (
    SELECT r.namespace, r.pipeline, r.day, coalesce(nullif(s.template, ''), '(none)') AS template,
           greatest(count(e.child_id) - 1, 0) AS retries,
           (s.phase = 'Succeeded' AND count(e.child_id) > 1)::integer AS flaky
    FROM r JOIN steps s ON s.run_id = r.id AND s.type = 'Retry'
    LEFT JOIN step_edges e ON e.run_id = s.run_id AND e.parent_id = s.id
    GROUP BY r.namespace, r.pipeline, r.day, s.run_id, s.id, s.template, s.phase
), run_facts AS (
    SELECT r.namespace, r.pipeline, r.day, r.phase,
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
    LEFT JOIN steps fs ON fs.run_id = r.id AND fs.id = r.failed_step ->> 'id'
    LEFT JOIN step_pods fp ON fp.run_id = fs.run_id AND fp.node_id = fs.id
        AND fp.namespace = r.namespace AND fp.workflow_name = r.name
), facts AS (
    -- One row per run ('') and per running step (its template), with what each holds.
    SELECT namespace, pipeline, day, '' AS template, phase, duration, queue, cause, rd, 0 AS retries, 0 AS flaky,
           'duration' AS d_metric, 'queue' AS q_metric
    FROM run_facts
    UNION ALL
    SELECT namespace, pipeline, day, template, phase, duration, queue, cause, rd, 0, 0, 'duration', 'queue' FROM s
    UNION ALL
    -- The run's row also holds the histograms of all its steps, and their retries.
    SELECT namespace, pipeline, day, '', NULL, duration, queue, NULL, NULL, 0, 0, 'step_duration', 'step_queue' FROM s
    UNION ALL
    SELECT namespace, pipeline, day, template, NULL, NULL, NULL, NULL, NULL, retries, flaky, NULL, NULL FROM retried
    UNION ALL
    SELECT namespace, pipeline, day, '', NULL, NULL, NULL, NULL, NULL, retries, flaky, NULL, NULL FROM retried
)
SELECT 'm', namespace, pipeline, template, day, NULL, NULL, NULL::smallint,
       count(phase), count(*) FILTER (WHERE phase = 'Succeeded'), count(*) FILTER (WHERE phase IN ('Failed', 'Error')),
       count(phase) FILTER (WHERE phase NOT IN ('Succeeded', 'Failed', 'Error')),
       count(duration) FILTER (WHERE d_metric = 'duration' AND duration >= 0),
       coalesce(sum(duration) FILTER (WHERE d_metric = 'duration' AND duration >= 0), 0),
       count(queue) FILTER (WHERE q_metric = 'queue' AND queue >= 0),
       coalesce(sum(queue) FILTER (WHERE q_metric = 'queue' AND queue >= 0), 0),
       sum(retries), sum(flaky),
       coalesce(sum((rd ->> 'cpu')::bigint), 0), coalesce(sum((rd ->> 'memory')::bigint), 0),
       -- Looking for a GPU key only in documents that name one: most name cpu and memory alone.
       coalesce(sum(stats_gpu_seconds(rd)) FILTER (WHERE strpos(rd::text, 'gpu') > 0), 0),
       count(*) FILTER (WHERE rd <> '{}')
FROM facts GROUP BY namespace, pipeline, template, day
UNION ALL
SELECT 'c', namespace, pipeline, template, day, cause, NULL, NULL, count(*),
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
FROM facts WHERE cause IS NOT NULL GROUP BY namespace, pipeline, template, day, cause
UNION ALL
SELECT 'h', namespace, pipeline, template, day, NULL, metric, stats_bucket(value), count(*),
       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
FROM facts, LATERAL (VALUES (d_metric, duration), (q_metric, queue)) AS v (metric, value)
WHERE value >= 0 AND metric IS NOT NULL
GROUP BY namespace, pipeline, template, day, metric, stats_bucket(value)
$$;

-- Adds what the runs `ids` contribute now, less `old` (what they contributed before the change),
-- to the daily rows of its namespace and of '*' (every namespace at once: what a caller
-- who reads all of them asks, in a tenth of the rows); a row whose figures do not change is not written. Each table's rows
-- are taken in key order, one table after the other, so concurrent writers never deadlock.
CREATE FUNCTION stats_apply(ids text[], old stats_delta[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    d stats_delta[];
BEGIN
    SELECT array_agg(g) INTO d FROM (
        SELECT kind, namespace, pipeline, template, day, cause, metric, bucket,
               sum(n)::bigint, sum(succeeded)::bigint, sum(failed)::bigint, sum(other)::bigint,
               sum(duration_n)::bigint, sum(duration_sum), sum(queue_n)::bigint, sum(queue_sum),
               sum(retries)::bigint, sum(flaky)::bigint, sum(cpu)::bigint, sum(memory)::bigint, sum(gpu)::bigint,
               sum(resources_n)::bigint
        FROM (
            SELECT * FROM stats_contribution(ids)
            UNION ALL
            SELECT o.kind, o.namespace, o.pipeline, o.template, o.day, o.cause, o.metric, o.bucket,
                   -o.n, -o.succeeded, -o.failed, -o.other, -o.duration_n, -o.duration_sum, -o.queue_n,
                   -o.queue_sum, -o.retries, -o.flaky, -o.cpu, -o.memory, -o.gpu, -o.resources_n
            FROM unnest(old) AS o
        ) AS both_ways
        GROUP BY kind, namespace, pipeline, template, day, cause, metric, bucket
        HAVING sum(n) <> 0 OR sum(succeeded) <> 0 OR sum(failed) <> 0 OR sum(other) <> 0
            OR sum(duration_n) <> 0 OR sum(duration_sum) <> 0 OR sum(queue_n) <> 0 OR sum(queue_sum) <> 0
            OR sum(retries) <> 0 OR sum(flaky) <> 0 OR sum(cpu) <> 0 OR sum(memory) <> 0 OR sum(gpu) <> 0
            OR sum(resources_n) <> 0
    ) AS g;
    IF d IS NULL THEN
        RETURN;
    END IF;

    INSERT INTO stats_rollup AS t (pipeline, template, start, namespace, n, succeeded, failed, other,
                                   duration_n, duration_sum, queue_n, queue_sum, retries, flaky, cpu, memory,
                                   gpu, resources_n)
    SELECT x.pipeline, x.template, x.day AS start,
           ns.namespace, sum(x.n), sum(x.succeeded), sum(x.failed), sum(x.other), sum(x.duration_n),
           sum(x.duration_sum), sum(x.queue_n), sum(x.queue_sum), sum(x.retries), sum(x.flaky), sum(x.cpu),
           sum(x.memory), sum(x.gpu), sum(x.resources_n)
    FROM unnest(d) AS x
    CROSS JOIN LATERAL (VALUES (x.namespace), ('*')) AS ns (namespace)
    WHERE x.kind = 'm'
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (pipeline, template, start, namespace) DO UPDATE SET
        n = t.n + excluded.n, succeeded = t.succeeded + excluded.succeeded, failed = t.failed + excluded.failed,
        other = t.other + excluded.other, duration_n = t.duration_n + excluded.duration_n,
        duration_sum = t.duration_sum + excluded.duration_sum, queue_n = t.queue_n + excluded.queue_n,
        queue_sum = t.queue_sum + excluded.queue_sum, retries = t.retries + excluded.retries,
        flaky = t.flaky + excluded.flaky, cpu = t.cpu + excluded.cpu, memory = t.memory + excluded.memory,
        gpu = t.gpu + excluded.gpu, resources_n = t.resources_n + excluded.resources_n;

    INSERT INTO stats_rollup_causes AS t (pipeline, template, start, namespace, cause, n)
    SELECT x.pipeline, x.template, x.day,
           ns.namespace, x.cause, sum(x.n)
    FROM unnest(d) AS x
    CROSS JOIN LATERAL (VALUES (x.namespace), ('*')) AS ns (namespace)
    WHERE x.kind = 'c'
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (pipeline, template, start, namespace, cause) DO UPDATE SET n = t.n + excluded.n;

    INSERT INTO stats_rollup_buckets AS t (pipeline, template, start, namespace, metric, bucket, n)
    SELECT x.pipeline, x.template, x.day,
           ns.namespace, x.metric, x.bucket, sum(x.n)
    FROM unnest(d) AS x
    CROSS JOIN LATERAL (VALUES (x.namespace), ('*')) AS ns (namespace)
    WHERE x.kind = 'h'
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (pipeline, template, start, namespace, metric, bucket) DO UPDATE SET n = t.n + excluded.n;
END
$$;

-- Every stored run's contribution, a thousand runs at a time: fills empty rollups.
CREATE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    chunk text[];
BEGIN
    FOR chunk IN SELECT array_agg(id) FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 1000 AS k FROM runs) AS r
                 GROUP BY k
    LOOP
        PERFORM stats_apply(chunk, '{}');
    END LOOP;
END
$$;

SELECT stats_rebuild();

-- The same figures for BI tools (see 0006_views.sql): per pipeline, namespace and UTC day, from the
-- daily rollups, so a dashboard over months reads a row per pipeline and day, not the runs.
CREATE VIEW v_pipeline_stats_daily AS
SELECT t.start AS day,
       nullif(t.pipeline, '') AS pipeline_name,
       t.namespace,
       t.n AS runs,
       t.succeeded,
       t.failed,
       t.other AS unfinished,
       t.succeeded::double precision / nullif(t.succeeded + t.failed, 0) AS success_rate,
       (t.duration_sum / nullif(t.duration_n, 0))::double precision AS mean_duration_seconds,
       stats_bucket_value(d.p50) AS p50_duration_seconds,
       stats_bucket_value(d.p95) AS p95_duration_seconds,
       (t.queue_sum / nullif(t.queue_n, 0))::double precision AS mean_queue_seconds,
       stats_bucket_value(q.p95) AS p95_queue_seconds,
       t.retries,
       t.flaky AS flaky_steps,
       t.cpu AS cpu_seconds,
       t.memory * 100.0 / 1024 AS memory_gib_seconds,
       t.gpu AS gpu_seconds
FROM stats_rollup t
-- Nearest-rank percentiles of the row's histograms, read in the view (with its owner's rights).
LEFT JOIN LATERAL (
    SELECT min(c.bucket) FILTER (WHERE c.seen >= greatest(ceil(0.5 * c.total), 1)) AS p50,
           min(c.bucket) FILTER (WHERE c.seen >= greatest(ceil(0.95 * c.total), 1)) AS p95
    FROM (SELECT b.bucket, sum(b.n) OVER (ORDER BY b.bucket) AS seen, sum(b.n) OVER () AS total
          FROM stats_rollup_buckets b
          WHERE b.pipeline = t.pipeline AND b.template = '' AND b.start = t.start
            AND b.namespace = t.namespace AND b.metric = 'duration' AND b.n > 0) AS c
) AS d ON true
LEFT JOIN LATERAL (
    SELECT min(c.bucket) FILTER (WHERE c.seen >= greatest(ceil(0.95 * c.total), 1)) AS p95
    FROM (SELECT b.bucket, sum(b.n) OVER (ORDER BY b.bucket) AS seen, sum(b.n) OVER () AS total
          FROM stats_rollup_buckets b
          WHERE b.pipeline = t.pipeline AND b.template = '' AND b.start = t.start
            AND b.namespace = t.namespace AND b.metric = 'queue' AND b.n > 0) AS c
) AS q ON true
WHERE t.template = '' AND t.namespace <> '*' AND t.n > 0;

COMMENT ON VIEW v_pipeline_stats_daily IS
    'Pipeline analytics per pipeline, namespace and UTC day of run creation, from the rollups the writers keep: '
    'counts and sums exact, percentiles within 4.5 % (0.5 s below one second). NULL: no data (no finished run, ...).';
COMMENT ON COLUMN v_pipeline_stats_daily.day IS 'The UTC day the runs were created on (midnight).';
COMMENT ON COLUMN v_pipeline_stats_daily.pipeline_name IS 'The pipeline; NULL for runs without a pipeline name.';
COMMENT ON COLUMN v_pipeline_stats_daily.namespace IS 'The runs'' namespace.';
COMMENT ON COLUMN v_pipeline_stats_daily.runs IS 'Runs created that day.';
COMMENT ON COLUMN v_pipeline_stats_daily.succeeded IS 'Of them, Succeeded.';
COMMENT ON COLUMN v_pipeline_stats_daily.failed IS 'Of them, Failed or Error (v_pipeline_failures_daily says why).';
COMMENT ON COLUMN v_pipeline_stats_daily.unfinished IS 'Of them, not finished yet.';
COMMENT ON COLUMN v_pipeline_stats_daily.success_rate IS 'succeeded / (succeeded + failed); NULL when none finished.';
COMMENT ON COLUMN v_pipeline_stats_daily.mean_duration_seconds IS 'Mean finished - started of finished runs, exact.';
COMMENT ON COLUMN v_pipeline_stats_daily.p50_duration_seconds IS 'Median run duration, within 4.5 %.';
COMMENT ON COLUMN v_pipeline_stats_daily.p95_duration_seconds IS '95th percentile of run duration, within 4.5 %.';
COMMENT ON COLUMN v_pipeline_stats_daily.mean_queue_seconds IS 'Mean started - created (time Pending), exact.';
COMMENT ON COLUMN v_pipeline_stats_daily.p95_queue_seconds IS '95th percentile of the time Pending, within 4.5 %.';
COMMENT ON COLUMN v_pipeline_stats_daily.retries IS 'Attempts beyond the first of retried steps.';
COMMENT ON COLUMN v_pipeline_stats_daily.flaky_steps IS 'Retried steps that succeeded on a later attempt.';
COMMENT ON COLUMN v_pipeline_stats_daily.cpu_seconds IS 'resourcesDuration cpu: seconds of one core.';
COMMENT ON COLUMN v_pipeline_stats_daily.memory_gib_seconds IS 'resourcesDuration memory, in seconds of one GiB.';
COMMENT ON COLUMN v_pipeline_stats_daily.gpu_seconds IS 'resourcesDuration of every *gpu* resource: seconds of one GPU.';

CREATE VIEW v_pipeline_failures_daily AS
SELECT c.start AS day,
       nullif(c.pipeline, '') AS pipeline_name,
       nullif(c.template, '') AS template,
       c.namespace,
       split_part(c.cause, ': ', 1) AS cause,
       nullif(substr(c.cause, length(split_part(c.cause, ': ', 1)) + 3), '') AS detail,
       c.n AS failures
FROM stats_rollup_causes c
WHERE c.namespace <> '*' AND c.n > 0;

COMMENT ON VIEW v_pipeline_failures_daily IS
    'Why runs (template NULL) and steps (per template) failed, per pipeline, namespace and UTC day of run creation.';
COMMENT ON COLUMN v_pipeline_failures_daily.day IS 'The UTC day the runs were created on (midnight).';
COMMENT ON COLUMN v_pipeline_failures_daily.pipeline_name IS 'The pipeline; NULL for runs without a pipeline name.';
COMMENT ON COLUMN v_pipeline_failures_daily.template IS 'The steps'' template; NULL: the runs themselves.';
COMMENT ON COLUMN v_pipeline_failures_daily.namespace IS 'The runs'' namespace.';
COMMENT ON COLUMN v_pipeline_failures_daily.cause IS 'OOMKilled, Evicted, DeadlineExceeded, ExitCode, Error or Unknown.';
COMMENT ON COLUMN v_pipeline_failures_daily.detail IS 'ExitCode: the code; Error: the message with its particulars taken out.';
COMMENT ON COLUMN v_pipeline_failures_daily.failures IS 'How many failed so.';
