"""Each statement of write.sql gets the fields it reads from its rows, their types and its column lists
from one row definition per table (store/write_rows.py), so a column cannot be misplaced by hand."""

import re
from datetime import UTC, datetime

import orjson
import pytest

from runledger.store import write_rows
from runledger.store.sql_blocks import all_queries
from runledger.store.write_rows import (
    EdgeRow,
    RunRow,
    StepKey,
    StepRow,
    TransitionRow,
    arrays,
    postgres_types,
    statement,
)

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
    "insert_transitions_and_outbox": write_rows.TransitionRow,
}


def test_every_block_reading_rows_has_a_row_definition() -> None:
    reading = {name for name, sql in all_queries().items() if "{unnest}" in sql}
    assert reading == set(ROWS_OF)


@pytest.mark.parametrize("name", sorted(ROWS_OF))
def test_the_fields_read_are_the_fields_of_the_row_in_order(name: str) -> None:
    row = ROWS_OF[name]
    sql = statement(name, row)
    rows = re.search(r"\(SELECT (.*?), n FROM jsonb_array_elements\(\$1::text::jsonb\) WITH ORDINALITY AS j\(r, n\)\) AS u\((.*?)\)", sql)
    assert rows is not None
    read = [a.strip() for a in rows.group(1).split(",")]
    expected = [f"r->>{i}" if kind == "text" else f"(r->>{i})::{kind}" for i, (kind, _) in enumerate(postgres_types(row))]
    assert read == expected
    assert [c.strip() for c in rows.group(2).split(",")] == list(row._fields)
    assert sorted({int(n) for n in re.findall(r"\$(\d+)", sql)}) == [1]
    assert "{" not in sql


def test_rows_are_sent_as_one_json_array_of_their_fields_in_order() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    rows = [TransitionRow(run_id="r", step_id="", from_phase=None, to_phase="Running", at=at)]
    assert orjson.loads(arrays(rows, TransitionRow)[0]) == [["r", "", None, "Running", "2024-05-01T12:00:00.250000+00:00"]]
    assert arrays([], TransitionRow) == ["[]"]


def test_a_row_of_another_table_is_refused() -> None:
    with pytest.raises(TypeError, match="StepKey among the rows of EdgeRow"):
        arrays([StepKey(run_id="r", id="s")], EdgeRow)


def test_inserted_columns_and_selected_values_follow_the_same_order() -> None:
    sql = statement("upsert_runs", RunRow)
    inserted = re.search(r"INSERT INTO runs AS r \((.*?)\)", sql).group(1).split(", ")
    selected = re.search(r"SELECT (.*?) FROM \(SELECT", sql).group(1).split(", ")
    assert inserted == list(RunRow._fields)
    assert [v.removeprefix("u.").split("::")[0] for v in selected] == inserted
    assert "u.labels::jsonb" in selected
    assert "u.exit_code" in statement("upsert_steps", StepRow)


def test_every_field_declares_its_postgres_type() -> None:
    for row in set(ROWS_OF.values()):
        assert all(kind.isidentifier() for kind, _ in postgres_types(row)), row.__name__
