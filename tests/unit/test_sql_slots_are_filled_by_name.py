"""SQL is composed one way: named slots filled by name, values bound, a slot missed or unknown is an error."""

from __future__ import annotations

import pytest

from runledger.store.sql_blocks import Statement, parse_blocks, splice


def test_every_slot_is_filled_and_a_regular_expressions_braces_are_left_alone():
    sql = splice("SELECT {columns} FROM runs r WHERE r.name ~ '^[a-z]{1,11}$' AND {columns} IS NOT NULL", columns="r.id")
    assert sql == "SELECT r.id FROM runs r WHERE r.name ~ '^[a-z]{1,11}$' AND r.id IS NOT NULL"


def test_a_slot_left_unfilled_is_an_error():
    with pytest.raises(KeyError, match="columns"):
        splice("SELECT {columns} FROM runs")


def test_a_fragment_for_no_slot_is_an_error():
    with pytest.raises(KeyError, match="colums"):
        splice("SELECT {columns} FROM runs", columns="id", colums="id")


def test_values_are_bound_in_order_and_only_their_placeholders_spliced():
    sql = Statement()
    sql.where("r.namespace = {value}", value=sql.bind("team-a; DROP TABLE runs"))
    sql.where("r.labels ? {key}", key=sql.bind("{value}"))
    assert sql.condition() == "r.namespace = $1 AND r.labels ? $2"
    assert sql.args == ["team-a; DROP TABLE runs", "{value}"]


def test_a_blocks_leading_comments_document_it_and_are_not_its_sql():
    blocks = parse_blocks("-- name: state\n-- What a run's state is.\n--\nCASE WHEN true THEN 1 END\n-- name: b\nSELECT 2;")
    assert blocks == {"state": "CASE WHEN true THEN 1 END", "b": "SELECT 2;"}
