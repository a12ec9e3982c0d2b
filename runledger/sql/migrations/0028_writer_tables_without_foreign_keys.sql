-- The tables only the writer fills, in the transaction that upserts their run, lose their foreign keys:
-- steps, step_edges, parameters and artifact_refs to runs, and artifact_refs to artifacts. Each row
-- written checked its run (and an artifact reference its artifact) by an index probe and a row lock:
-- 13-24 % of Postgres' CPU per written workflow (docs/benchmarks.md, "Foreign keys"). What they
-- guarded cannot happen: the writer writes a run's rows only after upserting the run in the same
-- transaction and rolls the whole batch back when a run's upsert is refused; an artifact reference
-- takes its artifact id from the artifacts row it joins by uri, in that transaction; and nothing deletes a run
-- or an artifact, so the cascades never ran. Anything that ever deletes a run deletes its rows
-- itself (step_pods, filled before its run may exist, never had a foreign key either).
ALTER TABLE steps DROP CONSTRAINT steps_run_id_fkey;
ALTER TABLE step_edges DROP CONSTRAINT step_edges_run_id_fkey;
ALTER TABLE parameters DROP CONSTRAINT parameters_run_id_fkey;
ALTER TABLE artifact_refs DROP CONSTRAINT artifact_refs_run_id_fkey;
ALTER TABLE artifact_refs DROP CONSTRAINT artifact_refs_artifact_id_fkey;
