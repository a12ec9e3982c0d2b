from runledger.store.migrations import available_migrations
from runledger.store.sql_blocks import all_queries, parse_blocks


def test_migration_files_are_numbered_from_one_without_gaps():
    versions = [m.version for m in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert versions, "at least the initial migration ships with the package"


def test_named_query_blocks_split_on_name_comments():
    blocks = parse_blocks("-- name: a\nSELECT 1;\n\n-- name: b\nSELECT 2;\n")
    assert blocks == {"a": "SELECT 1;", "b": "SELECT 2;"}


def test_every_shipped_query_block_has_sql():
    queries = all_queries()
    assert "upsert_runs" in queries and "list_transitions" in queries
    assert all(sql.strip() for sql in queries.values())
