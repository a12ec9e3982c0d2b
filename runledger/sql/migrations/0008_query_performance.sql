-- Planner statistics for run listings filtered by a run argument (GET /api/v1/runs?param.lr=0.1).
--
-- That filter is four conditions on one parameters row: step_id = '', name, md5(value) (what
-- parameters_by_value indexes) and value (the exact check). Postgres multiplies their selectivities
-- as if they were independent, but md5(value) is a function of value, a value belongs to a name, and
-- names of run arguments belong to step ''. So an argument a fifth of all runs share was estimated
-- at a few dozen rows, and the planner read every matching row through the index, fetched each run
-- and sorted them all to keep the newest page: 200,000 runs for one page of 100 at a million runs
-- (seconds). With the joint frequencies (the MCV list holds the common arguments; dependencies stop
-- md5(value) and value being counted twice) it walks runs newest first on runs_by_created and
-- probes parameters_by_value once per run, stopping after a page. Rare values (an experiment id held
-- by a few hundred runs) stay estimated rare and are still read through the index first, which is
-- the right plan for them.
--
-- ANALYZE here so an existing database gets the statistics now rather than at the next autoanalyze
-- (which a large, mostly-appended table reaches late). It samples a fixed number of rows: seconds
-- even at tens of millions of parameters.

CREATE STATISTICS parameters_by_step_name_value (ndistinct, dependencies, mcv)
    ON step_id, name, value, md5(value) FROM parameters;

ANALYZE parameters;
