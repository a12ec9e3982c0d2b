-- v_runs gains the stop asked of a run (migration 0011), at the end: the columns before it keep their
-- names, types and places, so the BI interface only grows.

CREATE OR REPLACE VIEW v_runs AS
SELECT r.id,
       r.namespace,
       r.name,
       r.pipeline_name,
       r.kfp_run_id,
       r.scheduled_workflow,
       r.phase,
       r.sort_at AS created_at,
       r.started_at,
       r.finished_at,
       r.duration_seconds,
       r.deleted_at IS NOT NULL AS deleted,
       r.labels,
       r.parameters,
       (SELECT coalesce(sum(c.n::integer), 0) FROM jsonb_each_text(r.step_counts) AS c (phase, n))::integer AS step_count,
       coalesce((r.step_counts ->> 'Failed')::integer, 0) + coalesce((r.step_counts ->> 'Error')::integer, 0) AS failed_steps,
       r.message,
       r.shutdown
FROM runs r;

COMMENT ON COLUMN v_runs.shutdown IS
    'The stop asked of the run: spec.shutdown (Terminate or Stop), or Terminate when spec.activeDeadlineSeconds is 0 (how KFP terminates a run); NULL if none.';
