-- A failed run records the step that failed it: {id, name, template, message, failure}, chosen by
-- the agent when it translates the workflow (runledger/agent/failures.py), where every node is at
-- hand. Stored with the run rather than worked out per read, so a page of runs shows each one's
-- failing step without reading their steps.
--
-- Nullable without a default, so adding it rewrites no rows: NULL until the run's next write.
ALTER TABLE runs ADD COLUMN failed_step jsonb;
