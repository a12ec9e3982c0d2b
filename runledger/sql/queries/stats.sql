-- Pipeline analytics: keeping the rollups current (write side) and reading them (read side).
-- The rollup tables and the functions that work out a run's contribution: migration 0020.

-- name: lock_runs_for_stats
-- Serialises the writers of one run's rows (runs and steps, pods) until commit, so the contribution
-- taken before a change is the one the rollups hold. In id order, and a batch that writes pods and
-- workflows takes the locks of all its runs at once first (rollups.lock_runs): two batches never deadlock.
SELECT pg_advisory_xact_lock(hashtextextended(id, 0)) FROM unnest($1::text[]) AS u (id) ORDER BY id;

-- name: stats_before
-- Before a change to the runs $1 and their steps ($2[i], $3[i]; NULL: any): what the finished ones
-- contribute to the rollups (migration 0021), and the figures of those steps and runs in flight (0026).
SELECT ARRAY(SELECT c FROM stats_contribution($1::text[]) AS c) AS rollups,
       ARRAY(SELECT f FROM stats_live_facts($1::text[], $2::text[], $3::text[]) AS f) AS live;

-- name: stats_apply
-- After it: $4 and $5 the two arrays stats_before returned.
SELECT stats_apply($1::text[], $4::stats_delta[], $2::text[], $3::text[], $5::stats_run_delta[]);

-- name: stats_totals
-- (stats_totals, stats_causes and stats_histograms are the parts of stats_read, hence no semicolon.)
-- Counts and sums per {group} (pipeline, or template of one pipeline) of the runs created on the UTC
-- days from $1 to $2 (exclusive), in the namespaces $3 ('{*}': all of them, kept as one); $4 the pipeline.
-- stats_rows (migration 0026): the rollups' rows (finished runs) and those of the runs in flight.
SELECT {group} AS key, sum(n)::bigint AS n, sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed,
       sum(other)::bigint AS other, sum(duration_n)::bigint AS duration_n, sum(duration_sum) AS duration_sum,
       sum(queue_n)::bigint AS queue_n, sum(queue_sum) AS queue_sum, sum(retries)::bigint AS retries,
       sum(flaky)::bigint AS flaky, sum(cpu)::bigint AS cpu, sum(memory)::bigint AS memory, sum(gpu)::bigint AS gpu,
       sum(resources_n)::bigint AS resources_n
FROM stats_rows
WHERE {which} AND {window} AND namespace = ANY ($3::text[])
GROUP BY 1

-- name: stats_causes
SELECT {group} AS key, cause, sum(n)::bigint AS n
FROM stats_rows_causes
WHERE {which} AND {window} AND namespace = ANY ($3::text[])
GROUP BY 1, 2

-- name: stats_histograms
-- The rows' histograms (migration 0024: counts per bucket, the array indexed by bucket number), merged by
-- the caller: a sum of arrays in SQL costs more than the rows' read. The runs in flight's rows (span 0)
-- hold a duration or two each, and there are hundreds: added up here by bucket, each bucket's count a
-- histogram of its own (lo its bucket).
WITH live AS (
    SELECT key, metric, b, sum(h[b])::integer AS c
    FROM (SELECT {group} AS key, m.metric, m.h, generate_subscripts(m.h, 1) AS b  -- in the list: no cache of arrays
          FROM stats_rows,
               LATERAL (VALUES (1, duration_hist), (2, queue_hist), (3, step_duration_hist), (4, step_queue_hist))
                   AS m (metric, h)
          WHERE span = 0 AND {which} AND {window} AND namespace = ANY ($3::text[])
            AND cardinality(m.h) > 0 AND (m.metric <= 2 OR $4::text IS NOT NULL)) AS cells  -- a list: runs' own
    GROUP BY 1, 2, 3
)
SELECT {group} AS key, array_lower(duration_hist, 1) AS duration_lo, duration_hist,
       array_lower(queue_hist, 1) AS queue_lo, queue_hist,
       array_lower(step_duration_hist, 1) AS step_duration_lo, step_duration_hist,
       array_lower(step_queue_hist, 1) AS step_queue_lo, step_queue_hist
FROM stats_rows
WHERE span > 0 AND {which} AND {window} AND namespace = ANY ($3::text[])
UNION ALL
SELECT key, CASE metric WHEN 1 THEN b END, CASE metric WHEN 1 THEN ARRAY[c] END,
       CASE metric WHEN 2 THEN b END, CASE metric WHEN 2 THEN ARRAY[c] END,
       CASE metric WHEN 3 THEN b END, CASE metric WHEN 3 THEN ARRAY[c] END,
       CASE metric WHEN 4 THEN b END, CASE metric WHEN 4 THEN ARRAY[c] END
FROM live

-- name: stats_read
-- An answer's rows in one round trip: each {group}'s totals (kind 't', stats_totals), failure causes ('c',
-- stats_causes: cause, n) and histograms ('h', stats_histograms: the lo and hist columns), NULL elsewhere.
SELECT 't' AS kind, key, NULL AS cause, n, succeeded, failed, other, duration_n, duration_sum, queue_n, queue_sum,
       retries, flaky, cpu, memory, gpu, resources_n, NULL::integer AS duration_lo, NULL::integer[] AS duration_hist,
       NULL::integer AS queue_lo, NULL::integer[] AS queue_hist, NULL::integer AS step_duration_lo,
       NULL::integer[] AS step_duration_hist, NULL::integer AS step_queue_lo, NULL::integer[] AS step_queue_hist
FROM ({totals}) AS t
UNION ALL
SELECT 'c', key, cause, n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM ({causes}) AS c
UNION ALL
SELECT 'h', key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       duration_lo, duration_hist, queue_lo, queue_hist, step_duration_lo, step_duration_hist, step_queue_lo,
       step_queue_hist
FROM ({histograms}) AS h;

-- name: stats_window
-- The days [$1, $2) in the fewest rows (migration 0027): of the rollups' blocks that lie within them, those whose
-- parent block (4 times the span; 16 days is the largest span) does not, so every day is counted once; and
-- the runs in flight's rows (span 0, a day each) of every day.
start >= $1 AND start < $2 AND start + greatest(span, 1) * interval '1 day' <= $2
AND (span IN (0, 16) OR stats_block(start, span * 4) < $1 OR stats_block(start, span * 4) + span * interval '4 days' > $2)

-- name: stats_every_pipeline
template = '' AND $4::text IS NULL

-- name: stats_one_pipeline
pipeline = $4
