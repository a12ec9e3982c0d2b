-- What a run and each of its steps used, as Argo accounts it: status.resourcesDuration (and each
-- node's), a map resource -> seconds of it used ({"cpu": 12, "memory": 34, "nvidia.com/gpu": 1}),
-- plus the run's status.progress ('3/7') and status.estimatedDuration (seconds). A run's duration
-- is already a column (duration_seconds, generated from finished_at - started_at).
--
-- Constant defaults and nullable columns: adding them rewrites no rows; a run gains its values at
-- its next write.
ALTER TABLE runs
    ADD COLUMN resources_duration jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN progress text,
    ADD COLUMN estimated_duration bigint;

ALTER TABLE steps ADD COLUMN resources_duration jsonb NOT NULL DEFAULT '{}';

-- The BI views gain them at the end: the columns before keep their names, types and places.
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
       r.shutdown,
       r.resources_duration,
       r.progress,
       r.estimated_duration
FROM runs r;

COMMENT ON COLUMN v_runs.resources_duration IS
    'status.resourcesDuration: resource name -> seconds of it the run used, as Argo accounts it; {} when not reported.';
COMMENT ON COLUMN v_runs.progress IS 'status.progress: done/total steps, e.g. 3/7; NULL when not reported.';
COMMENT ON COLUMN v_runs.estimated_duration IS 'status.estimatedDuration in seconds; NULL when not reported.';

CREATE OR REPLACE VIEW v_steps AS
SELECT s.run_id,
       r.namespace,
       r.pipeline_name,
       r.name AS run_name,
       r.sort_at AS run_created_at,
       s.id,
       s.name,
       s.display_name,
       s.type,
       s.template,
       s.phase,
       s.started_at,
       s.finished_at,
       extract(epoch FROM (s.finished_at - s.started_at))::double precision AS duration_seconds,
       coalesce(s.exit_code, p.exit_code) AS exit_code,
       coalesce(s.pod_name, p.pod_name) AS pod_name,
       p.image,
       p.termination_reason,
       p.restart_count,
       coalesce(p.host_node, s.host_node) AS host_node,
       s.message,
       s.resources_duration
FROM steps s
LEFT JOIN runs r ON r.id = s.run_id
LEFT JOIN step_pods p ON p.run_id = s.run_id AND p.node_id = s.id
    AND p.namespace = r.namespace AND p.workflow_name = r.name;

COMMENT ON COLUMN v_steps.resources_duration IS
    'The node''s resourcesDuration: resource name -> seconds of it the step used; {} when not reported.';
