-- Backfill imports: what an import adds beside the runs the ingest path writes.

-- name: upsert_kfp_run_details
-- Only for runs the ingest path stored (a run refused as invalid has no row to describe).
INSERT INTO kfp_run_details (run_id, kfp_run_id, display_name, experiment_id, experiment_name, pipeline_id,
                             pipeline_name, storage_state, has_manifest)
SELECT d.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::boolean[])
       AS d (run_id, kfp_run_id, display_name, experiment_id, experiment_name, pipeline_id, pipeline_name,
             storage_state, has_manifest)
WHERE EXISTS (SELECT 1 FROM runs r WHERE r.id = d.run_id)
ON CONFLICT (run_id) DO UPDATE SET
    kfp_run_id = excluded.kfp_run_id, display_name = excluded.display_name,
    experiment_id = excluded.experiment_id, experiment_name = excluded.experiment_name,
    pipeline_id = excluded.pipeline_id, pipeline_name = excluded.pipeline_name,
    storage_state = excluded.storage_state, has_manifest = excluded.has_manifest, imported_at = now()
WHERE (kfp_run_details.kfp_run_id, kfp_run_details.display_name, kfp_run_details.experiment_id,
       kfp_run_details.experiment_name, kfp_run_details.pipeline_id, kfp_run_details.pipeline_name,
       kfp_run_details.storage_state, kfp_run_details.has_manifest)
      IS DISTINCT FROM
      (excluded.kfp_run_id, excluded.display_name, excluded.experiment_id, excluded.experiment_name,
       excluded.pipeline_id, excluded.pipeline_name, excluded.storage_state, excluded.has_manifest);
