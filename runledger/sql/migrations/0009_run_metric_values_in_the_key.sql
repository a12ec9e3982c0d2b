-- The run's metric value rides in its primary key's index (INCLUDE), for run listings filtered by a
-- metric (GET /api/v1/runs?metric.accuracy>=0.9).
--
-- Such a listing walks runs newest first and probes run_metrics once per run until a page is full;
-- when few runs pass (a parameter and a metric together: a few percent), a page costs thousands of
-- probes. Each probe read the index and then the table row, only to compare the value. With the
-- value in the index the probe is an index-only scan: about a third less work per probe (24 -> 15 ms
-- for such a page at 100,000 runs). The key is unchanged, so ON CONFLICT (run_id, name) upserts
-- keep working; no second index is added.
ALTER TABLE run_metrics DROP CONSTRAINT run_metrics_pkey;
ALTER TABLE run_metrics ADD CONSTRAINT run_metrics_pkey PRIMARY KEY (run_id, name) INCLUDE (value);
