-- What KFP's own database knows about a run and the Workflow does not: the display name people gave
-- it, its experiment, the pipeline it ran, whether it is archived in KFP, and whether KFP kept its
-- Workflow at all (a run imported without a manifest has no steps because none are known).
--
-- Written by `runledger import kfp`, beside the run the ingest path wrote from the same row; a run
-- only watched has no row here. Keyed by runs.id (the Workflow's uid, or KFP's run id when KFP kept
-- no Workflow), so a run imported and watched is one run.

CREATE TABLE kfp_run_details (
    run_id          text PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    kfp_run_id      text NOT NULL,
    display_name    text,
    experiment_id   text,
    experiment_name text,
    pipeline_id     text,
    pipeline_name   text,
    storage_state   text,              -- AVAILABLE or ARCHIVED, as KFP's v2 API names them
    has_manifest    boolean NOT NULL,  -- false: KFP kept no Workflow for the run, so it has no steps
    imported_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX kfp_run_details_by_kfp_run_id ON kfp_run_details (kfp_run_id);
