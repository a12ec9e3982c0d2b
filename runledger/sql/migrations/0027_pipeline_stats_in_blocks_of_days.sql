-- The rollups (0020) also in blocks of 4 and 16 days, so a long window reads a few rows per pipeline, not one a day.
--
-- At a million runs a list of every pipeline over 30 days read 620 rows (20 pipelines, 31 days) and added
-- their histograms up, which took most of its time once the runs in flight were rows of their own (0026).
-- A row now stands for a block of `span` days starting at `start`, aligned on 1970-01-01 (stats_block): each
-- block of 16 days holds four of 4, each of those four days. A window takes its largest blocks that lie
-- within it and whose parent block does not (stats_window in sql/queries/stats.sql): every day of it once,
-- in at most 6 + 3 + (days / 16) + 3 + 6 rows per pipeline (31 days: 8 to 11 rather than 31; 7 days: 4 to 7).
-- The price is paid when a run finishes or changes after: stats_apply adds its figures to three rows (and
-- their '*' twins) where it added to one; a run in flight writes none of these.
--
-- The days' rows (span 1) are those 0020 kept; the blocks are added up from them here, not rebuilt from the
-- runs. The views read the days' rows, and the rows of the runs in flight (0026) rather than stats_in_flight().

-- The spans kept, in days. stats_window (the reads) names the largest, 16.
CREATE FUNCTION stats_spans() RETURNS SETOF smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ VALUES (1::smallint), (4::smallint), (16::smallint) $$;

-- The start of the block of `span` days that holds `day`.
CREATE FUNCTION stats_block(day timestamptz, span integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin(span * interval '1 day', day, timestamptz '1970-01-01 00:00:00+00')
$$;

-- Never 0 (stats_rows' rows of the runs in flight): a read of those alone leaves the rollups out unread.
ALTER TABLE stats_rollup ADD COLUMN span smallint NOT NULL DEFAULT 1 CHECK (span > 0);  -- days from start
ALTER TABLE stats_rollup DROP CONSTRAINT stats_rollup_pkey, ADD PRIMARY KEY (pipeline, namespace, start, span, template);
ALTER TABLE stats_rollup_causes ADD COLUMN span smallint NOT NULL DEFAULT 1 CHECK (span > 0);
ALTER TABLE stats_rollup_causes DROP CONSTRAINT stats_rollup_causes_pkey,
    ADD PRIMARY KEY (pipeline, namespace, start, span, template, cause);

INSERT INTO stats_rollup (pipeline, template, start, namespace, span, n, succeeded, failed, other, duration_n,
                          duration_sum, queue_n, queue_sum, retries, flaky, cpu, memory, gpu, resources_n,
                          duration_hist, queue_hist, step_duration_hist, step_queue_hist)
SELECT r.pipeline, r.template, stats_block(r.start, sp.span), r.namespace, sp.span, sum(r.n), sum(r.succeeded),
       sum(r.failed), sum(r.other), sum(r.duration_n), sum(r.duration_sum), sum(r.queue_n), sum(r.queue_sum),
       sum(r.retries), sum(r.flaky), sum(r.cpu), sum(r.memory), sum(r.gpu), sum(r.resources_n),
       stats_hist_sum(r.duration_hist), stats_hist_sum(r.queue_hist), stats_hist_sum(r.step_duration_hist),
       stats_hist_sum(r.step_queue_hist)
FROM stats_rollup r CROSS JOIN stats_spans() AS sp (span)
WHERE r.span = 1 AND sp.span > 1
GROUP BY r.pipeline, r.template, stats_block(r.start, sp.span), r.namespace, sp.span;

INSERT INTO stats_rollup_causes (pipeline, template, start, namespace, span, cause, n)
SELECT c.pipeline, c.template, stats_block(c.start, sp.span), c.namespace, sp.span, c.cause, sum(c.n)
FROM stats_rollup_causes c CROSS JOIN stats_spans() AS sp (span)
WHERE c.span = 1 AND sp.span > 1
GROUP BY c.pipeline, c.template, stats_block(c.start, sp.span), c.namespace, sp.span, c.cause;

-- As in 0024, with each change added to the row of every span that holds its day.
CREATE OR REPLACE FUNCTION stats_rollups_apply(ids text[], old stats_delta[]) RETURNS void
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

    -- 'h' rows hold zeros in every sum but n (their bucket's count): only n is taken from 'm' rows alone.
    INSERT INTO stats_rollup AS t (pipeline, template, start, namespace, span, n, succeeded, failed, other,
                                   duration_n, duration_sum, queue_n, queue_sum, retries, flaky, cpu, memory,
                                   gpu, resources_n, duration_hist, queue_hist, step_duration_hist, step_queue_hist)
    SELECT x.pipeline, x.template, stats_block(x.day, sp.span) AS start, ns.namespace, sp.span,
           coalesce(sum(x.n) FILTER (WHERE x.kind = 'm'), 0), sum(x.succeeded), sum(x.failed), sum(x.other),
           sum(x.duration_n), sum(x.duration_sum), sum(x.queue_n), sum(x.queue_sum), sum(x.retries), sum(x.flaky),
           sum(x.cpu), sum(x.memory), sum(x.gpu), sum(x.resources_n),
           stats_hist_sum(stats_hist_of(x.bucket, x.n)) FILTER (WHERE x.kind = 'h' AND x.metric = 'duration'),
           stats_hist_sum(stats_hist_of(x.bucket, x.n)) FILTER (WHERE x.kind = 'h' AND x.metric = 'queue'),
           stats_hist_sum(stats_hist_of(x.bucket, x.n)) FILTER (WHERE x.kind = 'h' AND x.metric = 'step_duration'),
           stats_hist_sum(stats_hist_of(x.bucket, x.n)) FILTER (WHERE x.kind = 'h' AND x.metric = 'step_queue')
    FROM unnest(d) AS x
    CROSS JOIN LATERAL (VALUES (x.namespace), ('*')) AS ns (namespace)
    CROSS JOIN stats_spans() AS sp (span)
    WHERE x.kind IN ('m', 'h')
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 4, 3, 5, 2  -- the key's order
    ON CONFLICT (pipeline, namespace, start, span, template) DO UPDATE SET
        n = t.n + excluded.n, succeeded = t.succeeded + excluded.succeeded, failed = t.failed + excluded.failed,
        other = t.other + excluded.other, duration_n = t.duration_n + excluded.duration_n,
        duration_sum = t.duration_sum + excluded.duration_sum, queue_n = t.queue_n + excluded.queue_n,
        queue_sum = t.queue_sum + excluded.queue_sum, retries = t.retries + excluded.retries,
        flaky = t.flaky + excluded.flaky, cpu = t.cpu + excluded.cpu, memory = t.memory + excluded.memory,
        gpu = t.gpu + excluded.gpu, resources_n = t.resources_n + excluded.resources_n,
        duration_hist = stats_hist_add(t.duration_hist, excluded.duration_hist),
        queue_hist = stats_hist_add(t.queue_hist, excluded.queue_hist),
        step_duration_hist = stats_hist_add(t.step_duration_hist, excluded.step_duration_hist),
        step_queue_hist = stats_hist_add(t.step_queue_hist, excluded.step_queue_hist);

    INSERT INTO stats_rollup_causes AS t (pipeline, template, start, namespace, span, cause, n)
    SELECT x.pipeline, x.template, stats_block(x.day, sp.span), ns.namespace, sp.span, x.cause, sum(x.n)
    FROM unnest(d) AS x
    CROSS JOIN LATERAL (VALUES (x.namespace), ('*')) AS ns (namespace)
    CROSS JOIN stats_spans() AS sp (span)
    WHERE x.kind = 'c'
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 4, 3, 5, 2, 6  -- the key's order
    ON CONFLICT (pipeline, namespace, start, span, template, cause) DO UPDATE SET n = t.n + excluded.n;
END
$$;

-- What a read adds up (0026), now with each row's span; the runs in flight's rows are days, as span 0: they
-- are read for every day of a window, whatever blocks the rollups' rows of those days are read from.
DROP VIEW stats_rows, stats_rows_causes;

CREATE VIEW stats_rows AS
SELECT pipeline, template, start, namespace, span, n, succeeded, failed, other, duration_n, duration_sum, queue_n,
       queue_sum, retries, flaky, cpu, memory, gpu, resources_n, duration_hist, queue_hist, step_duration_hist,
       step_queue_hist
FROM stats_rollup
UNION ALL
SELECT l.pipeline, l.template, l.start, ns.namespace, 0::smallint, l.n, l.succeeded, l.failed, l.other,
       l.duration_n, l.duration_sum, l.queue_n, l.queue_sum, l.retries, l.flaky, l.cpu, l.memory, l.gpu,
       l.resources_n, l.duration_hist, l.queue_hist, l.step_duration_hist, l.step_queue_hist
FROM stats_live l CROSS JOIN LATERAL (VALUES (l.namespace), ('*')) AS ns (namespace);

CREATE VIEW stats_rows_causes AS
SELECT pipeline, template, start, namespace, span, cause, n FROM stats_rollup_causes
UNION ALL
SELECT l.pipeline, l.template, l.start, ns.namespace, 0::smallint, l.cause, l.n
FROM stats_live_causes l CROSS JOIN LATERAL (VALUES (l.namespace), ('*')) AS ns (namespace);

-- The views: the days' rows, and the runs in flight's rows (0026) in place of stats_in_flight().
CREATE OR REPLACE VIEW v_pipeline_stats_daily AS
SELECT t.start AS day,
       nullif(t.pipeline, '') AS pipeline_name,
       t.namespace,
       t.n AS runs,
       t.succeeded,
       t.failed,
       t.other AS unfinished,
       t.succeeded::double precision / nullif(t.succeeded + t.failed, 0) AS success_rate,
       (t.duration_sum / nullif(t.duration_n, 0))::double precision AS mean_duration_seconds,
       stats_bucket_value(stats_hist_percentile(t.duration_hist, 0.5)) AS p50_duration_seconds,
       stats_bucket_value(stats_hist_percentile(t.duration_hist, 0.95)) AS p95_duration_seconds,
       (t.queue_sum / nullif(t.queue_n, 0))::double precision AS mean_queue_seconds,
       stats_bucket_value(stats_hist_percentile(t.queue_hist, 0.95)) AS p95_queue_seconds,
       t.retries,
       t.flaky AS flaky_steps,
       t.cpu AS cpu_seconds,
       t.memory * 100.0 / 1024 AS memory_gib_seconds,
       t.gpu AS gpu_seconds
FROM (
    SELECT u.pipeline, u.start, u.namespace, sum(u.n)::bigint AS n, sum(u.succeeded)::bigint AS succeeded,
           sum(u.failed)::bigint AS failed, sum(u.other)::bigint AS other, sum(u.duration_n)::bigint AS duration_n,
           sum(u.duration_sum) AS duration_sum, sum(u.queue_n)::bigint AS queue_n, sum(u.queue_sum) AS queue_sum,
           sum(u.retries)::bigint AS retries, sum(u.flaky)::bigint AS flaky, sum(u.cpu)::bigint AS cpu,
           sum(u.memory)::bigint AS memory, sum(u.gpu)::bigint AS gpu,
           stats_hist_sum(u.duration_hist) AS duration_hist, stats_hist_sum(u.queue_hist) AS queue_hist
    FROM (
        SELECT pipeline, start, namespace, n, succeeded, failed, other, duration_n, duration_sum, queue_n,
               queue_sum, retries, flaky, cpu, memory, gpu, duration_hist, queue_hist
        FROM stats_rollup WHERE template = '' AND namespace <> '*' AND span = 1
        UNION ALL
        SELECT pipeline, start, namespace, n, succeeded, failed, other, duration_n, duration_sum, queue_n,
               queue_sum, retries, flaky, cpu, memory, gpu, duration_hist, queue_hist
        FROM stats_live WHERE template = ''
    ) AS u
    GROUP BY u.pipeline, u.start, u.namespace
) AS t
WHERE t.n > 0;

CREATE OR REPLACE VIEW v_pipeline_failures_daily AS
SELECT c.start AS day,
       nullif(c.pipeline, '') AS pipeline_name,
       nullif(c.template, '') AS template,
       c.namespace,
       split_part(c.cause, ': ', 1) AS cause,
       nullif(substr(c.cause, length(split_part(c.cause, ': ', 1)) + 3), '') AS detail,
       c.n AS failures
FROM (
    SELECT u.pipeline, u.template, u.start, u.namespace, u.cause, sum(u.n)::bigint AS n
    FROM (
        SELECT pipeline, template, start, namespace, cause, n FROM stats_rollup_causes
        WHERE namespace <> '*' AND span = 1
        UNION ALL
        SELECT pipeline, template, start, namespace, cause, n FROM stats_live_causes
    ) AS u
    GROUP BY u.pipeline, u.template, u.start, u.namespace, u.cause
) AS c
WHERE c.n > 0;

DROP FUNCTION stats_in_flight();

-- No read looks for the runs in flight among the runs any more (0026 keeps their rows): the index that found
-- them (0021) goes, and with it its upkeep on every run a writer starts or finishes.
DROP INDEX runs_unfinished;
