"""KFP v1 UI metadata: the shapes KFP documents are kept; what breaks the file raises, the rest warns."""

from __future__ import annotations

import json

import pytest

from runledger.indexer.ui_metadata import UiMetadata, UiMetadataError, parse_ui_metadata

# The shapes from KFP's "Visualize Results in the Pipelines UI" and the SDK samples.
MARKDOWN = {"type": "markdown", "storage": "inline", "source": "# Inline Markdown\n[A link](https://www.kubeflow.org/)"}
TABLE = {
    "type": "table",
    "storage": "gcs",
    "format": "csv",
    "header": ["target", "predicted", "count"],
    "source": "gs://my-bucket/prediction/results.csv",
}
CONFUSION_MATRIX = {
    "type": "confusion_matrix",
    "format": "csv",
    "schema": [
        {"name": "target", "type": "CATEGORY"},
        {"name": "predicted", "type": "CATEGORY"},
        {"name": "count", "type": "NUMBER"},
    ],
    "source": "yummy,yummy,10\nyummy,not yummy,2\nnot yummy,yummy,6\nnot yummy,not yummy,7\n",
    "storage": "inline",
    "labels": ["yummy", "not yummy"],
}
ROC = {
    "type": "roc",
    "format": "csv",
    "schema": [
        {"name": "fpr", "type": "NUMBER"},
        {"name": "tpr", "type": "NUMBER"},
        {"name": "thresholds", "type": "NUMBER"},
    ],
    "source": "s3://mlpipeline/roc/roc.csv",
}
TENSORBOARD = {"type": "tensorboard", "source": "gs://my-bucket/logs/run-1"}
WEB_APP = {"type": "web-app", "storage": "inline", "source": "<h1>Hello, World!</h1>"}
WEB_APP_FROM_MINIO = {"type": "web-app", "storage": "minio", "source": "minio://mlpipeline/report.html"}


def ui_file(*outputs, **top) -> bytes:
    return json.dumps({"outputs": list(outputs), **top}).encode()


@pytest.mark.parametrize(
    "output", [MARKDOWN, TABLE, CONFUSION_MATRIX, ROC, TENSORBOARD, WEB_APP, WEB_APP_FROM_MINIO],
    ids=lambda o: f"{o['type']}-{o.get('storage', 'default')}",
)  # fmt: skip
def test_each_documented_output_shape_is_kept_as_written_without_warnings(output):
    assert parse_ui_metadata(ui_file(output)) == UiMetadata(outputs=(output,), warnings=())


def test_a_file_with_every_viewer_keeps_them_in_order():
    outputs = (MARKDOWN, TABLE, CONFUSION_MATRIX, ROC, TENSORBOARD, WEB_APP)
    parsed = parse_ui_metadata(ui_file(*outputs))
    assert parsed.outputs == outputs and parsed.warnings == ()


def test_the_old_docs_version_field_is_accepted_silently():
    assert parse_ui_metadata(ui_file(MARKDOWN, version=1)).warnings == ()


def test_outputs_survive_a_json_round_trip_unchanged():
    parsed = parse_ui_metadata(ui_file(CONFUSION_MATRIX, ROC))
    assert json.loads(json.dumps(list(parsed.outputs))) == [CONFUSION_MATRIX, ROC]


def test_an_empty_outputs_list_is_valid():
    assert parse_ui_metadata(b'{"outputs": []}') == UiMetadata()


# --- warnings: kept, but the UI would not render them ------------------------------------------


def test_unknown_output_type_is_kept_with_a_warning():
    custom = {"type": "plotly", "source": "gs://b/fig.json"}
    parsed = parse_ui_metadata(ui_file(MARKDOWN, custom))
    assert parsed.outputs == (MARKDOWN, custom)
    (warning,) = parsed.warnings
    assert warning.startswith("outputs[1] ('plotly'): type is not one the KFP UI renders")


@pytest.mark.parametrize(
    "output", [{"type": "markdown"}, {"type": "web-app", "source": ""}, {"type": "roc", "source": 3}]
)
def test_missing_source_is_a_warning_not_an_error(output):
    parsed = parse_ui_metadata(ui_file(output))
    assert parsed.outputs == (output,)
    assert any("no 'source' string" in w for w in parsed.warnings)


def test_non_inline_source_the_ui_cannot_fetch_is_a_warning():
    parsed = parse_ui_metadata(ui_file({"type": "markdown", "source": "# forgot storage: inline"}))
    assert any("not inline and not a gs://" in w for w in parsed.warnings)


def test_unknown_storage_is_a_warning():
    parsed = parse_ui_metadata(ui_file({"type": "web-app", "storage": "azure", "source": "https://x/y.html"}))
    (warning,) = parsed.warnings
    assert warning == "outputs[0] ('web-app'): storage 'azure' is not one of gcs, http, https, inline, minio, s3"


def test_table_without_header_or_csv_format_warns_for_each():
    parsed = parse_ui_metadata(ui_file({"type": "table", "source": "gs://b/t.tsv", "format": "tsv"}))
    assert len(parsed.warnings) == 2
    assert "'header' must be a list of strings" in parsed.warnings[0]
    assert "format 'tsv' is not 'csv'" in parsed.warnings[1]


def test_confusion_matrix_without_labels_or_schema_warns_for_each():
    parsed = parse_ui_metadata(ui_file({"type": "confusion_matrix", "source": "gs://b/cm.csv", "schema": "s.json"}))
    assert len(parsed.warnings) == 2
    assert "'labels' must be a list of strings" in parsed.warnings[0]
    assert "'schema' must be a list of {name, type} objects" in parsed.warnings[1]


def test_roc_schema_without_fpr_tpr_threshold_columns_is_a_warning():
    roc = dict(ROC, schema=[{"name": "x", "type": "NUMBER"}, {"name": "y", "type": "NUMBER"}])
    assert any("needs columns named fpr, tpr and threshold" in w for w in parse_ui_metadata(ui_file(roc)).warnings)


def test_unknown_top_level_field_is_a_warning():
    assert parse_ui_metadata(ui_file(MARKDOWN, extra=True)).warnings == ("unknown top-level field 'extra' ignored",)


def test_a_huge_type_name_is_shortened_in_its_warning():
    (warning,) = parse_ui_metadata(ui_file({"type": "t" * 10_000, "source": "gs://b/k"})).warnings
    assert len(warning) < 300


# --- errors: the file as a whole is refused ----------------------------------------------------


def test_file_over_the_size_limit_is_rejected_before_parsing():
    with pytest.raises(UiMetadataError, match="over the limit of 100 bytes"):
        parse_ui_metadata(b" " * 101, max_bytes=100)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xc3\x28", "not UTF-8"),
        (b'{"outputs": [', "not valid JSON"),
        (b'{"outputs": [{"type": "roc", "source": NaN}]}', "NaN is not a JSON value"),
        (b'{"outputs": [{"type": "roc", "x": -Infinity}]}', "-Infinity is not a JSON value"),
        (b"[" * 100_000, "too deeply"),
        (b'{"outputs": [' + b"1" * 5000 + b"]}", "not valid JSON"),
        (b'[{"type": "markdown"}]', "must hold a JSON object, not an array"),
        (b"null", "must hold a JSON object, not null"),
        (b'{"version": 1}', "no 'outputs' field"),
        (b'{"outputs": {"type": "markdown"}}', "'outputs' must be a list, not an object"),
        (b'{"outputs": null}', "'outputs' must be a list, not null"),
        (b'{"outputs": ["markdown"]}', r"outputs\[0\] must be a JSON object, not a string"),
        (b'{"outputs": [{"type": "markdown"}, {"source": "x"}]}', r"outputs\[1\] must have a string 'type'"),
        (b'{"outputs": [{"type": 3}]}', r"outputs\[0\] must have a string 'type'"),
        (b'{"outputs": [{"type": "markdown", "source": "a\\u0000b"}]}', "NUL character"),
        (b'{"outputs": [{"type": "markdown", "\\ud800": 1}]}', "unpaired surrogate"),
    ],
)
def test_unusable_file_is_rejected_as_a_whole(data, reason):
    with pytest.raises(UiMetadataError, match=reason):
        parse_ui_metadata(data)


def test_more_outputs_than_the_cap_are_rejected():
    with pytest.raises(UiMetadataError, match="101 outputs, over the limit of 100"):
        parse_ui_metadata(ui_file(*[MARKDOWN] * 101))
    assert len(parse_ui_metadata(ui_file(*[MARKDOWN] * 100)).outputs) == 100


def test_custom_output_cap_applies():
    with pytest.raises(UiMetadataError, match="3 outputs, over the limit of 2"):
        parse_ui_metadata(ui_file(MARKDOWN, TABLE, ROC), max_outputs=2)
