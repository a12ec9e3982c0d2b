-- Listings (runledger/store/paging.py): every listing of many rows is one keyset page of these
-- shapes; a listing gives its source table, joins and conditions, and its order.

-- name: keyset_page
-- One page: `sort_key` is each row's key, the next page's token holds the last one. {order} is
-- (key, id) both in one direction, or id alone; {limit} is one more row than the page, to tell
-- whether another page follows.
SELECT {columns}, {sort_key} AS sort_key
FROM {source} {joins}
WHERE {conditions}
ORDER BY {order}
LIMIT {limit}

-- name: keyset_after
-- The rows after a page's last one, in the listing's order.
({sort_key}, {id}) {compare} ({after_key}, {after_id})

-- name: keyset_after_id
{id} {compare} {after_id}

-- name: keyset_count
-- How many rows the listing holds, all pages together.
SELECT count(*) FROM {source} {joins} WHERE {conditions}
