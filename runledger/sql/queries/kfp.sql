-- KFP-compatible reads (runledger/kfp/run_documents.py). Listings are composed there from the
-- expressions below around the keyset blocks of listing.sql (only the WHERE clause, the sort
-- expression and the direction vary); every value is a bound parameter. A block's comments come
-- right after its name line, where loading drops them: the expressions, each one CASE ... END,
-- are spliced whole into larger statements.

-- name: kfp_run_state
-- The v2beta1 RuntimeState of a run, from its Argo phase and spec.shutdown. Must agree with
-- kfp_runs.runtime_state(): Argo has no cancelled phase; a run asked to stop (spec.shutdown) stays
-- Running until the controller has stopped it, then fails, with the message "Stopped with strategy
-- 'Stop'|'Terminate'" (older controllers: "workflow shutdown with strategy: X").
CASE
    WHEN r.phase IN ('', 'Pending', 'Running') AND r.shutdown <> '' THEN 'CANCELING'
    WHEN r.phase IN ('', 'Pending') THEN 'PENDING'
    WHEN r.phase = 'Running' THEN 'RUNNING'
    WHEN r.phase = 'Succeeded' THEN 'SUCCEEDED'
    WHEN r.phase IN ('Skipped', 'Omitted') THEN 'SKIPPED'
    WHEN r.phase IN ('Failed', 'Error')
         AND (r.shutdown IN ('Terminate', 'Stop')
              OR r.message ~ '^(Stopped with strategy ''(Stop|Terminate)''|workflow shutdown with strategy: +(Stop|Terminate))')
        THEN 'CANCELED'
    WHEN r.phase IN ('Failed', 'Error') THEN 'FAILED'
    ELSE 'RUNTIME_STATE_UNSPECIFIED'
END

-- name: kfp_v1_status
-- The v1beta1 status of a run: its Argo phase, Pending while it has none, and "Terminating" (KFP's
-- v1 name of CANCELING) while it is being stopped. Must agree with kfp_runs.v1_status().
CASE
    WHEN r.phase IN ('', 'Pending', 'Running') AND r.shutdown <> '' THEN 'Terminating'
    ELSE coalesce(nullif(r.phase, ''), 'Pending')
END

-- name: kfp_scheduled_at
-- When a run was scheduled: a recurring run's instance carries its scheduled time (Unix seconds) in
-- this label, as KFP's persistence agent reads it; any other run was scheduled when it was created.
CASE
    WHEN r.labels ->> 'scheduledworkflows.kubeflow.org/workflowEpoch' ~ '^[0-9]{1,11}$'
        THEN to_timestamp((r.labels ->> 'scheduledworkflows.kubeflow.org/workflowEpoch')::bigint)
    ELSE r.sort_at
END

-- name: kfp_get_run
-- One run by the id a KFP client holds: KFP's run id (label pipeline/runid) first, else runledger's
-- own id (the workflow uid). Two indexed lookups rather than one OR, so both stay index scans.
SELECT {run_columns_r}
FROM (
    SELECT 0 AS rank, r.* FROM runs r WHERE r.kfp_run_id = $1
    UNION ALL
    SELECT 1 AS rank, r.* FROM runs r WHERE r.id = $1
) r
ORDER BY rank, sort_at DESC, id DESC
LIMIT 1;

-- name: kfp_run_transitions
SELECT run_id, to_phase, at, observed_at FROM transitions
WHERE run_id = ANY($1::text[]) AND step_id = ''
ORDER BY run_id, at, id;

-- name: kfp_run_metrics
SELECT run_id, step_id, name, value, format FROM metrics
WHERE run_id = ANY($1::text[])
ORDER BY run_id, step_id, name;
