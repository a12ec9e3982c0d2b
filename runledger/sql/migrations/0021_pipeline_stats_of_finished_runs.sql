-- The pipeline analytics rollups (0020) hold finished runs only (Succeeded, Failed, Error); the figures of
-- the runs not finished yet are read from their rows as they stand, when asked.
--
-- Most writes are to running runs (a step starts or ends): kept in the rollups, each of them worked a
-- run's whole contribution out twice and upserted its rollup rows, for a figure the next write undid.
-- Now a run is contributed once, when it finishes, and again only when a finished run's stored facts
-- change (a late pod observation, a re-write, a run going back to Running when retried); a write to runs
-- that were and stay unfinished leaves the rollups alone. Few runs are in flight at any time, so a read
-- adds theirs from the runs, through the partial index below, and every figure keeps its meaning.

-- What a run's stored rows say, whatever its phase: the old stats_contribution, now also what a read
-- adds for the runs in flight.
ALTER FUNCTION stats_contribution(text[]) RENAME TO stats_facts;

-- What the runs `ids` add to the rollups: those finished, as their rows stand now; a run in flight adds
-- nothing. stats_apply and stats_rebuild call it by this name.
CREATE FUNCTION stats_contribution(ids text[]) RETURNS SETOF stats_delta
LANGUAGE sql STABLE AS $$
    SELECT * FROM stats_facts(ARRAY(SELECT id FROM runs
                                    WHERE id = ANY (ids) AND phase IN ('Succeeded', 'Failed', 'Error')))
$$;

-- The runs in flight, by creation: what a read adds to the rollups. Its predicate is spelled as the
-- queries spell it, so the planner uses it.
CREATE INDEX runs_unfinished ON runs (sort_at) WHERE phase NOT IN ('Succeeded', 'Failed', 'Error');

TRUNCATE stats_rollup, stats_rollup_causes, stats_rollup_buckets;
SELECT stats_rebuild();

-- Every run in flight's figures, for the views: with the rights of its owner, the views', so a role
-- granted the views alone reads them (a function called by a view runs with its caller's rights).
CREATE FUNCTION stats_in_flight() RETURNS SETOF stats_delta
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT * FROM stats_facts(ARRAY(SELECT id FROM runs WHERE phase NOT IN ('Succeeded', 'Failed', 'Error')))
$$;

-- The views add the runs in flight (all of them, worked out once per query) to the rollups' rows.
CREATE OR REPLACE VIEW v_pipeline_stats_daily AS
WITH live AS MATERIALIZED (SELECT * FROM stats_in_flight())
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
FROM (
    SELECT u.pipeline, u.start, u.namespace, sum(u.n)::bigint AS n, sum(u.succeeded)::bigint AS succeeded,
           sum(u.failed)::bigint AS failed, sum(u.other)::bigint AS other, sum(u.duration_n)::bigint AS duration_n,
           sum(u.duration_sum) AS duration_sum, sum(u.queue_n)::bigint AS queue_n, sum(u.queue_sum) AS queue_sum,
           sum(u.retries)::bigint AS retries, sum(u.flaky)::bigint AS flaky, sum(u.cpu)::bigint AS cpu,
           sum(u.memory)::bigint AS memory, sum(u.gpu)::bigint AS gpu
    FROM (
        SELECT pipeline, start, namespace, n, succeeded, failed, other, duration_n, duration_sum, queue_n,
               queue_sum, retries, flaky, cpu, memory, gpu
        FROM stats_rollup WHERE template = '' AND namespace <> '*'
        UNION ALL
        SELECT pipeline, day, namespace, n, succeeded, failed, other, duration_n, duration_sum, queue_n,
               queue_sum, retries, flaky, cpu, memory, gpu
        FROM live WHERE kind = 'm' AND template = ''
    ) AS u
    GROUP BY u.pipeline, u.start, u.namespace
) AS t
-- Nearest-rank percentiles of the row's histograms, read in the view (with its owner's rights).
LEFT JOIN LATERAL (
    SELECT min(c.bucket) FILTER (WHERE c.seen >= greatest(ceil(0.5 * c.total), 1)) AS p50,
           min(c.bucket) FILTER (WHERE c.seen >= greatest(ceil(0.95 * c.total), 1)) AS p95
    FROM (SELECT h.bucket, sum(h.n) OVER (ORDER BY h.bucket) AS seen, sum(h.n) OVER () AS total
          FROM (SELECT b.bucket, sum(b.n) AS n
                FROM (SELECT bucket, n FROM stats_rollup_buckets
                      WHERE pipeline = t.pipeline AND template = '' AND start = t.start
                        AND namespace = t.namespace AND metric = 'duration'
                      UNION ALL
                      SELECT bucket, n FROM live
                      WHERE kind = 'h' AND pipeline = t.pipeline AND template = '' AND day = t.start
                        AND namespace = t.namespace AND metric = 'duration') AS b
                GROUP BY b.bucket HAVING sum(b.n) > 0) AS h) AS c
) AS d ON true
LEFT JOIN LATERAL (
    SELECT min(c.bucket) FILTER (WHERE c.seen >= greatest(ceil(0.95 * c.total), 1)) AS p95
    FROM (SELECT h.bucket, sum(h.n) OVER (ORDER BY h.bucket) AS seen, sum(h.n) OVER () AS total
          FROM (SELECT b.bucket, sum(b.n) AS n
                FROM (SELECT bucket, n FROM stats_rollup_buckets
                      WHERE pipeline = t.pipeline AND template = '' AND start = t.start
                        AND namespace = t.namespace AND metric = 'queue'
                      UNION ALL
                      SELECT bucket, n FROM live
                      WHERE kind = 'h' AND pipeline = t.pipeline AND template = '' AND day = t.start
                        AND namespace = t.namespace AND metric = 'queue') AS b
                GROUP BY b.bucket HAVING sum(b.n) > 0) AS h) AS c
) AS q ON true
WHERE t.n > 0;

CREATE OR REPLACE VIEW v_pipeline_failures_daily AS
WITH live AS MATERIALIZED (SELECT * FROM stats_in_flight())
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
        SELECT pipeline, template, start, namespace, cause, n FROM stats_rollup_causes WHERE namespace <> '*'
        UNION ALL
        SELECT pipeline, template, day, namespace, cause, n FROM live WHERE kind = 'c'
    ) AS u
    GROUP BY u.pipeline, u.template, u.start, u.namespace, u.cause
) AS c
WHERE c.n > 0;
