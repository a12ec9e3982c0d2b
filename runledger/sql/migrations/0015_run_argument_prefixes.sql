-- "runs whose argument model starts with resnet" (GET /api/v1/runs?param.model=resnet*): a range of
-- an index on the argument's value. parameters_by_value indexes md5(value), which keeps no order.
--
-- Only the first 200 characters are indexed, so an argument of any length fits in a btree entry; a
-- longer prefix is narrowed by its first 200 characters and checked whole against the row.
-- text_pattern_ops compares byte-wise, whatever the database's collation, which is what a prefix
-- range needs; the listing bounds the range with ~>=~ / ~<~ itself rather than leaving it to LIKE,
-- so a generic plan of the prepared statement (the pattern unknown) still scans only the range.

CREATE INDEX parameters_by_value_prefix ON parameters (name, left(value, 200) text_pattern_ops, run_id)
    WHERE step_id = '';
