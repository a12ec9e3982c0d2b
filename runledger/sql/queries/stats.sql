-- Pipeline analytics: keeping the rollups current (write side) and reading them (read side).
-- The rollup tables and the functions that work out a run's contribution: migration 0020.

-- name: lock_runs_for_stats
-- Serialises the writers of one run's rows (runs and steps, pods) until commit, so the contribution
-- taken before a change is the one the rollups hold. In id order: two batches never deadlock.
SELECT pg_advisory_xact_lock(hashtextextended(id, 0)) FROM unnest($1::text[]) AS u (id) ORDER BY id;

-- name: stats_contribution
-- Of the runs finished (migration 0021): a run in flight contributes nothing.
SELECT * FROM stats_contribution($1::text[]);

-- name: stats_apply
SELECT stats_apply($1::text[], $2::stats_delta[]);

-- name: stats_totals
-- Counts and sums per {group} (pipeline, or template of one pipeline) of the runs created on the UTC
-- days from $1 to $2 (exclusive), in the namespaces $3 ('{*}': all of them, kept as one); $4 the pipeline.
-- stats_rows (migration 0030): the rollups' rows (finished runs) and those of the runs in flight.
SELECT {group} AS key, sum(n)::bigint AS n, sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed,
       sum(other)::bigint AS other, sum(duration_n)::bigint AS duration_n, sum(duration_sum) AS duration_sum,
       sum(queue_n)::bigint AS queue_n, sum(queue_sum) AS queue_sum, sum(retries)::bigint AS retries,
       sum(flaky)::bigint AS flaky, sum(cpu)::bigint AS cpu, sum(memory)::bigint AS memory, sum(gpu)::bigint AS gpu,
       sum(resources_n)::bigint AS resources_n
FROM stats_rows
WHERE {which} AND {window} AND namespace = ANY ($3::text[])
GROUP BY 1;

-- name: stats_causes
SELECT {group} AS key, cause, sum(n)::bigint AS n
FROM stats_rows_causes
WHERE {which} AND {window} AND namespace = ANY ($3::text[])
GROUP BY 1, 2;

-- name: stats_histograms
-- The rows' duration histograms (migration 0024: counts per bucket, the array indexed by bucket number),
-- merged by the caller: a sum of arrays in SQL costs more than the rows' read.
SELECT {group} AS key, array_lower(duration_hist, 1) AS duration_lo, duration_hist,
       array_lower(queue_hist, 1) AS queue_lo, queue_hist,
       array_lower(step_duration_hist, 1) AS step_duration_lo, step_duration_hist,
       array_lower(step_queue_hist, 1) AS step_queue_lo, step_queue_hist
FROM stats_rows
WHERE {which} AND {window} AND namespace = ANY ($3::text[]);

-- name: stats_window
start >= $1 AND start < $2

-- name: stats_every_pipeline
template = '' AND $4::text IS NULL

-- name: stats_one_pipeline
pipeline = $4
