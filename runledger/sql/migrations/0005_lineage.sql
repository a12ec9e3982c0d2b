-- Lineage (GET /api/v1/lineage): parameter passing between steps of a run is inferred from equal
-- values, so a step's inputs are matched to other steps' outputs in the same run (and back) by
-- value. md5 keeps long values indexable; the query rechecks the values themselves.
-- Artifact edges need nothing new: artifact_refs' primary key serves step -> artifacts and
-- artifact_refs_by_artifact serves artifact -> steps; step_edges_by_child serves the ancestry walk.

CREATE INDEX parameters_by_step_value ON parameters (run_id, direction, md5(value)) WHERE step_id <> '';
