-- artifact_refs_by_uri served no statement: references are found by run and step (the key) or by
-- artifact id (artifact_refs_by_artifact); a URI is looked up in artifacts (artifacts_uri_key).
-- It held ~1.6 KB per run (2.5 % of all storage, at 20 steps a run) and was written with every
-- reference.
DROP INDEX IF EXISTS artifact_refs_by_uri;
