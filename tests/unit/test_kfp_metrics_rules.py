"""KFP v1 metrics files: KFP's own rules, a file-level error or a per-entry error for each."""

from __future__ import annotations

import json
import math
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runledger.indexer.kfp_metrics import (
    NAME_PATTERN,
    Metric,
    MetricError,
    MetricsFileError,
    MetricsReport,
    parse_metrics,
)


def metrics_file(*entries, **top) -> bytes:
    return json.dumps({"metrics": list(entries), **top}).encode()


def only_error(report: MetricsReport) -> MetricError:
    assert report.metrics == ()
    (error,) = report.errors
    return error


def kfp_name_rule(name: str) -> bool:
    """The rule the pattern encodes, in words: an oracle independent of the regex."""
    letters = string.ascii_letters
    middle = letters + string.digits + "-_"
    return (
        1 <= len(name) <= 64
        and name[0] in letters
        and all(c in middle for c in name[1:-1])
        and (len(name) == 1 or name[-1] in letters + string.digits)
    )


# --- a real file ------------------------------------------------------------------------------


def test_the_file_a_kfp_v1_component_writes_parses_to_its_metrics():
    data = metrics_file(
        {"name": "accuracy-score", "numberValue": 0.923, "format": "PERCENTAGE"},
        {"name": "roc_auc", "numberValue": 0.88},
    )
    assert parse_metrics(data) == MetricsReport(
        metrics=(
            Metric(name="accuracy-score", value=0.923, format="PERCENTAGE"),
            Metric(name="roc_auc", value=0.88, format="RAW"),
        )
    )


def test_an_empty_metrics_list_is_a_valid_empty_report():
    assert parse_metrics(b'{"metrics": []}') == MetricsReport()


# --- whole-file rules -------------------------------------------------------------------------


def test_file_over_the_size_limit_is_rejected_before_parsing():
    with pytest.raises(MetricsFileError, match="over the limit of 100 bytes"):
        parse_metrics(b" " * 101, max_file_bytes=100)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"metrics": [}', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'\xef\xbb\xbf{"metrics": []}', "not valid JSON"),  # a UTF-8 BOM is not JSON
        (b"[" * 100_000, "too deeply"),
        (b'{"metrics": [' + b"1" * 5000 + b"]}", "not valid JSON"),  # past Python's int-digit limit
        (b'[{"name": "a", "numberValue": 1}]', "must hold a JSON object, not an array"),
        (b'"metrics"', "must hold a JSON object, not a string"),
        (b"{}", "no 'metrics' field"),
        (b'{"metrics": null}', "must be a list, not null"),
        (b'{"metrics": {"name": "a"}}', "must be a list, not an object"),
        (b'{"metrics": [], "metrics": []}', "more than once"),
        (b'{"metrics": [], "runId": 7}', "'runId' must be a string"),
    ],
)
def test_unreadable_file_is_rejected_as_a_whole(data, reason):
    with pytest.raises(MetricsFileError, match=reason):
        parse_metrics(data)


def test_unknown_top_level_field_rejects_the_file_as_jsonpb_does():
    with pytest.raises(MetricsFileError, match=r"unknown top-level field\(s\) \['version'\]"):
        parse_metrics(metrics_file({"name": "a", "numberValue": 1}, version=1))


def test_run_id_at_the_top_is_a_request_field_jsonpb_accepts_and_is_ignored():
    report = parse_metrics(metrics_file({"name": "a", "numberValue": 1}, run_id="r1", runId="r1"))
    assert report.metrics == (Metric(name="a", value=1.0, format="RAW"),)


# --- per-entry rules: the entry is an error, the others are kept ------------------------------


def test_valid_entries_are_kept_next_to_invalid_ones_with_each_error_located():
    report = parse_metrics(
        metrics_file(
            {"name": "good-1", "numberValue": 1},
            "not an object",
            {"name": "bad name", "numberValue": 2},
            {"name": "good-2", "number_value": 3, "format": "PERCENTAGE"},
            {"name": "no-value"},
        )
    )
    assert report.metrics == (
        Metric(name="good-1", value=1.0, format="RAW"),
        Metric(name="good-2", value=3.0, format="PERCENTAGE"),
    )
    assert [(e.index, e.name) for e in report.errors] == [(1, None), (2, "bad name"), (4, "no-value")]
    assert "must be a JSON object, not a string" in report.errors[0].reason


@pytest.mark.parametrize("entry", [[], 3, None, "m", True])
def test_entry_that_is_not_an_object_is_an_error(entry):
    error = only_error(parse_metrics(metrics_file(entry)))
    assert error.index == 0 and error.name is None and "must be a JSON object" in error.reason


def test_unknown_entry_field_is_an_error_even_when_the_rest_is_fine():
    error = only_error(parse_metrics(metrics_file({"name": "loss", "value": 0.1, "numberValue": 0.1})))
    assert error.name == "loss" and "unknown field(s) ['value']" in error.reason


def test_node_id_in_an_entry_is_a_field_jsonpb_accepts_and_is_ignored():
    report = parse_metrics(metrics_file({"name": "loss", "numberValue": 0.1, "node_id": "n", "nodeId": "n"}))
    assert report.metrics == (Metric(name="loss", value=0.1),)


def test_a_field_given_twice_in_an_entry_is_an_error():
    data = b'{"metrics": [{"name": "a", "numberValue": 1, "numberValue": 2}]}'
    assert "['numberValue'] given more than once" in only_error(parse_metrics(data)).reason


@pytest.mark.parametrize("entry", [{"numberValue": 1}, {"name": None, "numberValue": 1}])
def test_missing_name_is_an_error(entry):
    assert "name is missing" in only_error(parse_metrics(metrics_file(entry))).reason


def test_name_that_is_not_a_string_is_an_error():
    error = only_error(parse_metrics(metrics_file({"name": 42, "numberValue": 1})))
    assert error.name is None and "name must be a string, not a number" in error.reason


@pytest.mark.parametrize(
    "name", ["a", "A", "ab", "a1", "a-1", "a_1", "a--__--b", "x" * 64, "Z" + "-" * 62 + "9", "CamelCase9"]
)
def test_names_kfp_accepts_are_accepted(name):
    (metric,) = parse_metrics(metrics_file({"name": name, "numberValue": 1})).metrics
    assert metric.name == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "1abc", "_abc", "-abc", "abc-", "abc_", "a b", "a.b", "a/b", "é", "abc\n", "\nabc", "a\x00"],
)
def test_names_kfp_rejects_are_errors(name):
    error = only_error(parse_metrics(metrics_file({"name": name, "numberValue": 1})))
    assert "does not match" in error.reason


def test_error_name_is_escaped_and_shortened_so_it_can_be_stored():
    error = only_error(parse_metrics(metrics_file({"name": "bad\x00" + "y" * 500, "numberValue": 1})))
    assert error.name is not None and "\x00" not in error.name and error.name.startswith("bad\\u0000")
    assert len(error.name) <= 128 and len(error.reason) < 300


@pytest.mark.parametrize("key", ["numberValue", "number_value"])
def test_value_is_read_from_either_spelling(key):
    (metric,) = parse_metrics(metrics_file({"name": "m", key: 0.25})).metrics
    assert metric.value == 0.25


def test_both_spellings_at_once_is_an_error():
    entry = {"name": "m", "numberValue": 1, "number_value": 1}
    assert "both numberValue and number_value" in only_error(parse_metrics(metrics_file(entry))).reason


@pytest.mark.parametrize("entry", [{"name": "m"}, {"name": "m", "numberValue": None}])
def test_missing_value_is_an_error(entry):
    assert "numberValue is missing" in only_error(parse_metrics(metrics_file(entry))).reason


@pytest.mark.parametrize("value", [True, False])
def test_boolean_value_is_not_a_number(value):
    reason = only_error(parse_metrics(metrics_file({"name": "m", "numberValue": value}))).reason
    assert "not a boolean" in reason


@pytest.mark.parametrize("value", [[1], {"v": 1}])
def test_array_or_object_value_is_not_a_number(value):
    assert "must be a number" in only_error(parse_metrics(metrics_file({"name": "m", "numberValue": value}))).reason


@pytest.mark.parametrize(("text", "value"), [("0.5", 0.5), ("-3", -3.0), ("1e-3", 0.001), ("0", 0.0), ("2E+2", 200.0)])
def test_numeric_string_is_accepted_as_proto3_json_does_for_doubles(text, value):
    (metric,) = parse_metrics(metrics_file({"name": "m", "numberValue": text})).metrics
    assert metric.value == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "+1", ".5", "5.", "0x10", "1_000", "01", "abc", "inf", "nan"])
def test_string_that_does_not_spell_a_json_number_is_an_error(text):
    reason = only_error(parse_metrics(metrics_file({"name": "m", "numberValue": text}))).reason
    assert "is not a number" in reason


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_value_given_as_a_string_is_an_error(text):
    reason = only_error(parse_metrics(metrics_file({"name": "m", "numberValue": text}))).reason
    assert "is not a finite number" in reason


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_value_given_as_a_bare_token_is_an_error(token):
    # Python's json accepts these tokens (KFP's Go decoder rejects the whole file); either way no
    # NaN or infinity is ever kept.
    data = b'{"metrics": [{"name": "m", "numberValue": ' + token + b'}, {"name": "ok", "numberValue": 1}]}'
    report = parse_metrics(data)
    assert [m.name for m in report.metrics] == ["ok"]
    assert "is not a finite number" in report.errors[0].reason


def test_integer_too_large_for_a_double_is_an_error():
    data = b'{"metrics": [{"name": "m", "numberValue": 1' + b"0" * 400 + b"}]}"
    assert "out of the range of a double" in only_error(parse_metrics(data)).reason


@pytest.mark.parametrize(
    ("given_format", "stored"),
    [(None, "RAW"), ("RAW", "RAW"), ("PERCENTAGE", "PERCENTAGE"), ("UNSPECIFIED", "RAW"), (0, "RAW"), (1, "RAW"),
     (2, "PERCENTAGE")],
)  # fmt: skip
def test_format_names_and_numbers_of_kfp_enum_are_accepted(given_format, stored):
    entry = {"name": "m", "numberValue": 1} | ({} if given_format is None else {"format": given_format})
    (metric,) = parse_metrics(metrics_file(entry)).metrics
    assert metric.format == stored


def test_null_format_means_raw():
    (metric,) = parse_metrics(metrics_file({"name": "m", "numberValue": 1, "format": None})).metrics
    assert metric.format == "RAW"


@pytest.mark.parametrize("bad", ["FORMAT_UNSPECIFIED", "percentage", "Raw", "PERCENT", "", 3, -1, 1.0, True, ["RAW"]])
def test_format_outside_kfp_enum_is_an_error(bad):
    reason = only_error(parse_metrics(metrics_file({"name": "m", "numberValue": 1, "format": bad}))).reason
    assert "is not one of RAW, PERCENTAGE" in reason


def test_all_problems_of_one_entry_are_reported_together():
    reason = only_error(parse_metrics(metrics_file({"name": "9", "numberValue": "x", "format": "P", "z": 1}))).reason
    for part in ("unknown field(s) ['z']", "does not match", "is not a number", "is not one of RAW"):
        assert part in reason


def test_duplicate_name_keeps_the_first_and_reports_the_later_ones():
    loss, acc, loss_again = ({"name": n, "numberValue": v} for n, v in (("loss", 1), ("acc", 2), ("loss", 3)))
    report = parse_metrics(metrics_file(loss, acc, loss_again))
    assert report.metrics == (Metric(name="loss", value=1.0), Metric(name="acc", value=2.0))
    (error,) = report.errors
    assert (error.index, error.name) == (2, "loss") and "entry 0" in error.reason


def test_an_invalid_entry_does_not_claim_its_name():
    report = parse_metrics(metrics_file({"name": "loss", "numberValue": "bad"}, {"name": "loss", "numberValue": 2}))
    assert report.metrics == (Metric(name="loss", value=2.0),)
    assert [e.index for e in report.errors] == [0]


# --- the limit --------------------------------------------------------------------------------


def test_more_than_fifty_metrics_keeps_the_first_fifty_and_reports_the_rest():
    report = parse_metrics(metrics_file(*({"name": f"m{i}", "numberValue": i} for i in range(53))))
    assert [m.name for m in report.metrics] == [f"m{i}" for i in range(50)]
    assert [(e.index, e.name, e.reason) for e in report.errors] == [
        (i, f"m{i}", "over the limit of 50 metrics") for i in (50, 51, 52)
    ]


def test_the_limit_counts_valid_metrics_only():
    entries = [{"name": "bad name", "numberValue": 1}] * 3 + [{"name": f"m{i}", "numberValue": i} for i in range(3)]
    report = parse_metrics(metrics_file(*entries), max_metrics=3)
    assert [m.name for m in report.metrics] == ["m0", "m1", "m2"]
    assert [e.index for e in report.errors] == [0, 1, 2]


def test_custom_metric_limit_applies():
    report = parse_metrics(metrics_file(*({"name": f"m{i}", "numberValue": i} for i in range(5))), max_metrics=2)
    assert [m.name for m in report.metrics] == ["m0", "m1"]
    assert {e.reason for e in report.errors} == {"over the limit of 2 metrics"}


def test_a_flood_of_bad_entries_yields_a_bounded_error_list_with_a_count():
    data = b'{"metrics": [' + b",".join([b"{}"] * 100_000) + b"]}"
    report = parse_metrics(data, max_errors=10)
    assert len(report.errors) == 11
    assert report.errors[-1].index == 10 and "99990 more entries" in report.errors[-1].reason


# --- generated cases --------------------------------------------------------------------------


@given(st.from_regex(re.compile(NAME_PATTERN), fullmatch=True))
def test_every_name_matching_kfp_pattern_is_accepted(name):
    (metric,) = parse_metrics(metrics_file({"name": name, "numberValue": 1})).metrics
    assert metric.name == name


NEAR_NAMES = st.text(alphabet=st.sampled_from(string.ascii_letters + string.digits + "-_ .\n\x00é"), max_size=70)


@given(NEAR_NAMES | st.text())
def test_acceptance_of_any_name_agrees_with_kfp_rule(name):
    report = parse_metrics(metrics_file({"name": name, "numberValue": 1}))
    accepted = bool(report.metrics)
    assert accepted == kfp_name_rule(name) == bool(re.fullmatch(NAME_PATTERN, name))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_double_round_trips_exactly(value):
    for given_as in (value, repr(value)):  # a JSON number, and the string proto3 JSON also accepts
        (metric,) = parse_metrics(metrics_file({"name": "m", "numberValue": given_as})).metrics
        assert metric.value == value and math.copysign(1, metric.value) == math.copysign(1, value)
