-- KFP's API server database (read only): run_details and experiments, as KFP's API server creates
-- them from its models (backend/src/apiserver/model/run.go, experiment.go). The columns are named
-- as the Go fields' gorm tags say, CamelCase: quoted on Postgres, where case matters.

-- name: kfp_runs_page__postgres
-- Keyset order on the primary key: a page starts after the last run id read.
SELECT r."UUID" AS uuid, r."DisplayName" AS display_name, r."Name" AS name, r."Namespace" AS namespace,
       r."ExperimentUUID" AS experiment_id, e."Name" AS experiment_name, r."StorageState" AS storage_state,
       r."PipelineId" AS pipeline_id, r."PipelineName" AS pipeline_name, r."CreatedAtInSec" AS created_at,
       r."ScheduledAtInSec" AS scheduled_at, r."FinishedAtInSec" AS finished_at, r."Conditions" AS conditions,
       r."State" AS state, r."WorkflowRuntimeManifest" AS workflow_manifest,
       r."PipelineRuntimeManifest" AS pipeline_manifest
FROM run_details r LEFT JOIN experiments e ON e."UUID" = r."ExperimentUUID"
WHERE r."UUID" > $1
ORDER BY r."UUID"
LIMIT $2;

-- name: kfp_runs_page__mysql
SELECT r.UUID AS uuid, r.DisplayName AS display_name, r.Name AS name, r.Namespace AS namespace,
       r.ExperimentUUID AS experiment_id, e.Name AS experiment_name, r.StorageState AS storage_state,
       r.PipelineId AS pipeline_id, r.PipelineName AS pipeline_name, r.CreatedAtInSec AS created_at,
       r.ScheduledAtInSec AS scheduled_at, r.FinishedAtInSec AS finished_at, r.Conditions AS conditions,
       r.State AS state, r.WorkflowRuntimeManifest AS workflow_manifest,
       r.PipelineRuntimeManifest AS pipeline_manifest
FROM run_details r LEFT JOIN experiments e ON e.UUID = r.ExperimentUUID
WHERE r.UUID > %s
ORDER BY r.UUID
LIMIT %s;

-- name: kfp_runs_count__postgres
-- The runs an import reads after a run id: its progress's total.
SELECT count(*) AS rows FROM run_details r WHERE r."UUID" > $1;

-- name: kfp_runs_count__mysql
SELECT count(*) AS `rows` FROM run_details r WHERE r.UUID > %s;
