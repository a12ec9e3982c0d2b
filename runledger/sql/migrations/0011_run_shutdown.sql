-- A run records the Workflow's spec.shutdown: 'Terminate' or 'Stop' once someone (argo terminate,
-- argo stop, the Argo UI) asked the controller to stop it; any other value is kept as written.
--
-- Argo has no phase for "being stopped": the workflow stays Running until the controller has
-- stopped its pods (Terminate) or run its exit handlers (Stop), then ends Failed. Without the
-- request itself a run being canceled reads as running, and one canceled by a controller whose
-- message runledger does not recognise reads as failed; the KFP API reports both from this column.
--
-- Nullable without a default, so adding it rewrites no rows: NULL until the run's next write.
ALTER TABLE runs ADD COLUMN shutdown text;
