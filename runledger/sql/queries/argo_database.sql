-- Argo's persistence database (read only): the node status offload table and the workflow archive.
-- Tables and columns as Argo's persist/sqldb/migrate.go leaves them; one block per dialect.
-- {table} is the offload table's configured name (nodeStatusOffLoad.tableName), checked before use.

-- name: argo_offloaded_nodes__postgres
-- Argo's primary key is (clustername, uid, version): one row, or none if not yet (or no longer) there.
-- Every column: builds that compress offloaded nodes add a compressednodes column.
SELECT * FROM {table} WHERE clustername = $1 AND uid = $2 AND version = $3;

-- name: argo_offloaded_nodes__mysql
SELECT * FROM {table} WHERE clustername = %s AND uid = %s AND version = %s;

-- name: argo_archive_page__postgres
-- Keyset order on the archive's primary key (clustername, uid): a page starts after the last key read.
SELECT clustername, uid, workflow::text AS workflow
FROM argo_archived_workflows
WHERE (clustername, uid) > ($1, $2)
  AND ($3::text IS NULL OR namespace = $3)
  AND ($4::timestamp IS NULL OR startedat >= $4)
ORDER BY clustername, uid
LIMIT $5;

-- name: argo_archive_page__mysql
SELECT clustername, uid, CAST(workflow AS CHAR) AS workflow
FROM argo_archived_workflows
WHERE (clustername > %s OR (clustername = %s AND uid > %s))
  AND (%s IS NULL OR namespace = %s)
  AND (%s IS NULL OR startedat >= %s)
ORDER BY clustername, uid
LIMIT %s;

-- name: argo_archive_count__postgres
-- The rows an import reads after a key (the whole archive from the start): its progress's total.
SELECT count(*) AS rows
FROM argo_archived_workflows
WHERE (clustername, uid) > ($1, $2)
  AND ($3::text IS NULL OR namespace = $3)
  AND ($4::timestamp IS NULL OR startedat >= $4);

-- name: argo_archive_count__mysql
SELECT count(*) AS `rows`
FROM argo_archived_workflows
WHERE (clustername > %s OR (clustername = %s AND uid > %s))
  AND (%s IS NULL OR namespace = %s)
  AND (%s IS NULL OR startedat >= %s);
