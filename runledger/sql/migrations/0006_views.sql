-- Stable views for BI tools (Grafana, Metabase, Superset, notebooks): a supported interface over
-- the tables, which stay free to change. A later migration may add columns to these views (always
-- at the end) but not rename, retype or drop one; the comments below are the documentation.
--
-- Within each view `name` is the name of what one row is (run, step, metric); other names are
-- prefixed (run_name, ...).
--
-- Every view is a plain select. The joins are LEFT JOINs on a unique key, so Postgres drops any join
-- whose columns a query does not use (`SELECT DISTINCT name FROM v_metrics` reads `metrics` alone).
-- `created_at` (`run_created_at` in v_steps) is the indexed sort key of run listings: filter on it
-- and a query over millions of runs reads only the runs in its time range, and their rows.
--
-- A view reads its tables with its owner's rights, so a role granted SELECT on the views alone
-- (GRANT SELECT ON v_runs, v_steps, v_metrics TO grafana) sees these columns and nothing else.

CREATE VIEW v_runs AS
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
       r.message
FROM runs r;

COMMENT ON VIEW v_runs IS
    'One row per run (Argo Workflow, KFP run) runledger recorded, deleted ones included. Stable interface for BI tools.';
COMMENT ON COLUMN v_runs.id IS 'Run id: the Workflow''s metadata.uid (else a UUIDv5 of namespace/name). Key of the view.';
COMMENT ON COLUMN v_runs.namespace IS 'Kubernetes namespace of the Workflow.';
COMMENT ON COLUMN v_runs.name IS 'Workflow name (metadata.name).';
COMMENT ON COLUMN v_runs.pipeline_name IS 'KFP pipeline name, else the Argo WorkflowTemplate, else the Workflow''s generateName; NULL when none is known.';
COMMENT ON COLUMN v_runs.kfp_run_id IS 'KFP run id (label pipeline/runid); NULL for plain Argo runs.';
COMMENT ON COLUMN v_runs.scheduled_workflow IS 'ScheduledWorkflow (KFP recurring run) or CronWorkflow that created the run; NULL if none.';
COMMENT ON COLUMN v_runs.phase IS 'Workflow phase: Pending, Running, Succeeded, Failed, Error; empty before the controller set one.';
COMMENT ON COLUMN v_runs.created_at IS
    'metadata.creationTimestamp (for an object without one: when runledger first saw it). Indexed: filter and sort on it.';
COMMENT ON COLUMN v_runs.started_at IS 'status.startedAt; NULL until the run started.';
COMMENT ON COLUMN v_runs.finished_at IS 'status.finishedAt; NULL while the run is not finished.';
COMMENT ON COLUMN v_runs.duration_seconds IS 'finished_at - started_at in seconds; NULL while either is unknown.';
COMMENT ON COLUMN v_runs.deleted IS 'The Workflow was deleted from the cluster (garbage-collected); its history is kept.';
COMMENT ON COLUMN v_runs.labels IS 'Workflow labels as a JSON object.';
COMMENT ON COLUMN v_runs.parameters IS 'Run arguments (spec.arguments.parameters) as a JSON object {name: value}.';
COMMENT ON COLUMN v_runs.step_count IS 'Nodes in status.nodes, of every type (pods, DAGs, step groups, retries, skipped).';
COMMENT ON COLUMN v_runs.failed_steps IS 'Nodes in phase Failed or Error.';
COMMENT ON COLUMN v_runs.message IS 'status.message: why the run failed or is waiting; NULL if none.';

CREATE VIEW v_steps AS
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
       s.message
FROM steps s
LEFT JOIN runs r ON r.id = s.run_id
LEFT JOIN step_pods p ON p.run_id = s.run_id AND p.node_id = s.id;

COMMENT ON VIEW v_steps IS
    'One row per node of a run (status.nodes), with what its pod adds when runledger saw the pod. Stable interface for BI tools.';
COMMENT ON COLUMN v_steps.run_id IS 'The run (v_runs.id). Key of the view with id.';
COMMENT ON COLUMN v_steps.namespace IS 'Namespace of the run.';
COMMENT ON COLUMN v_steps.pipeline_name IS 'Pipeline of the run (v_runs.pipeline_name).';
COMMENT ON COLUMN v_steps.run_name IS 'Workflow name of the run.';
COMMENT ON COLUMN v_steps.run_created_at IS
    'The run''s created_at (as in v_runs). Indexed: filtering on it keeps step queries to the runs in range.';
COMMENT ON COLUMN v_steps.id IS 'Argo node id, unique within the run.';
COMMENT ON COLUMN v_steps.name IS 'Argo node name (workflow.step.substep...).';
COMMENT ON COLUMN v_steps.display_name IS 'Argo node display name (the KFP task name); NULL if not set.';
COMMENT ON COLUMN v_steps.type IS 'Argo node type: Pod, DAG, Steps, StepGroup, Retry, Skipped, Suspend, Container, TaskGroup...';
COMMENT ON COLUMN v_steps.template IS 'Template the node ran; NULL if not recorded.';
COMMENT ON COLUMN v_steps.phase IS 'Node phase: Pending, Running, Succeeded, Skipped, Failed, Error, Omitted.';
COMMENT ON COLUMN v_steps.started_at IS 'When the node started; NULL if unknown.';
COMMENT ON COLUMN v_steps.finished_at IS 'When the node finished; NULL while it runs.';
COMMENT ON COLUMN v_steps.duration_seconds IS 'finished_at - started_at in seconds; NULL while either is unknown.';
COMMENT ON COLUMN v_steps.exit_code IS 'Exit code Argo recorded for the node, else the main container''s from its pod; NULL if unknown.';
COMMENT ON COLUMN v_steps.pod_name IS 'Name of the pod that ran the node; NULL for nodes without a pod.';
COMMENT ON COLUMN v_steps.image IS 'Image of the pod''s main container; NULL when no pod was seen.';
COMMENT ON COLUMN v_steps.termination_reason IS
    'Why the pod or its main container ended (OOMKilled, Evicted, DeadlineExceeded, Error, Completed...); NULL if unknown.';
COMMENT ON COLUMN v_steps.restart_count IS 'Restarts of the pod''s main container; NULL when no pod was seen.';
COMMENT ON COLUMN v_steps.host_node IS 'Kubernetes node the pod ran on; NULL if unknown.';
COMMENT ON COLUMN v_steps.message IS 'Node message (why it failed or waits); NULL if none.';

CREATE VIEW v_metrics AS
SELECT m.run_id,
       r.namespace,
       r.pipeline_name,
       r.name AS run_name,
       r.sort_at AS created_at,
       m.step_id,
       m.name,
       m.value,
       m.format,
       coalesce(rm.step_id = m.step_id, false) AS is_run_value
FROM metrics m
LEFT JOIN runs r ON r.id = m.run_id
LEFT JOIN run_metrics rm ON rm.run_id = m.run_id AND rm.name = m.name;

COMMENT ON VIEW v_metrics IS
    'One row per KFP metric a step of a run reported (its mlpipeline-metrics file). Stable interface for BI tools.';
COMMENT ON COLUMN v_metrics.run_id IS 'The run (v_runs.id). Key of the view with step_id and name.';
COMMENT ON COLUMN v_metrics.namespace IS 'Namespace of the run.';
COMMENT ON COLUMN v_metrics.pipeline_name IS 'Pipeline of the run (v_runs.pipeline_name).';
COMMENT ON COLUMN v_metrics.run_name IS 'Workflow name of the run.';
COMMENT ON COLUMN v_metrics.created_at IS
    'The run''s created_at (as in v_runs). Indexed: filtering on it keeps metric queries to the runs in range.';
COMMENT ON COLUMN v_metrics.step_id IS 'The step that reported the metric (v_steps.id).';
COMMENT ON COLUMN v_metrics.name IS 'Metric name, as in the metrics file.';
COMMENT ON COLUMN v_metrics.value IS 'Metric value.';
COMMENT ON COLUMN v_metrics.format IS 'KFP display format: RAW or PERCENTAGE.';
COMMENT ON COLUMN v_metrics.is_run_value IS
    'This is the run''s value of the metric (of several steps reporting it, the one that finished last): one row per run and name.';
