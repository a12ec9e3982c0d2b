"""Each statement of write.sql gets its unnest() arrays, their types and its column lists from one
row definition per table (store/write_rows.py), so a column cannot be misplaced by hand."""

import re

import pytest

from runledger.store import write_rows
from runledger.store.sql_blocks import all_queries
from runledger.store.write_rows import RunRow, StepRow, postgres_types, statement

ROWS_OF = {
    "upsert_runs": write_rows.RunRow,
    "upsert_steps": write_rows.StepRow,
    "delete_steps": write_rows.StepKey,
    "insert_edges": write_rows.EdgeRow,
    "delete_edges": write_rows.EdgeRow,
    "upsert_parameters": write_rows.ParameterRow,
    "delete_parameters": write_rows.RefKey,
    "discover_artifacts": write_rows.ArtifactRow,
    "upsert_artifact_refs": write_rows.ArtifactRefRow,
    "delete_artifact_refs": write_rows.RefKey,
    "insert_transitions": write_rows.TransitionRow,
}


def test_every_block_reading_rows_has_a_row_definition() -> None:
    reading = {name for name, sql in all_queries().items() if "{unnest}" in sql}
    assert reading == set(ROWS_OF)


@pytest.mark.parametrize("name", sorted(ROWS_OF))
def test_the_arrays_are_the_fields_of_the_row_in_order(name: str) -> None:
    row = ROWS_OF[name]
    sql = statement(name, row)
    unnest = re.search(r"unnest\((.*?)\)(?: WITH ORDINALITY)? AS u\((.*?)\)", sql)
    assert unnest is not None
    arrays = [a.strip() for a in unnest.group(1).split(",")]
    expected = [f"${i}::{kind}[]" for i, (kind, _) in enumerate(postgres_types(row), 1)]
    assert arrays == expected
    assert [c.strip() for c in unnest.group(2).split(",")][: len(row._fields)] == list(row._fields)
    assert sorted({int(n) for n in re.findall(r"\$(\d+)", sql)}) == list(range(1, len(row._fields) + 1))
    assert "{" not in sql


def test_inserted_columns_and_selected_values_follow_the_same_order() -> None:
    sql = statement("upsert_runs", RunRow)
    inserted = re.search(r"INSERT INTO runs AS r \((.*?)\)", sql).group(1).split(", ")
    selected = re.search(r"SELECT (.*?) FROM unnest", sql).group(1).split(", ")
    assert inserted == list(RunRow._fields)
    assert [v.removeprefix("u.").split("::")[0] for v in selected] == inserted
    assert "u.labels::jsonb" in selected
    assert "u.exit_code" in statement("upsert_steps", StepRow)


def test_every_field_declares_its_postgres_type() -> None:
    for row in set(ROWS_OF.values()):
        assert all(kind.isidentifier() for kind, _ in postgres_types(row)), row.__name__
