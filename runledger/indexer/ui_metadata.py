"""Parse a KFP v1 `mlpipeline-ui-metadata` file into entries fit to store as jsonb.

The file is `{"outputs": [{"type": ..., "storage": ..., "source": ..., ...}, ...]}` (older docs also
write `"version": 1`). The KFP UI (`frontend/src/lib/OutputArtifactLoader.ts`) renders each output by
its `type` and skips the ones it cannot render, so only what makes the whole file unusable raises
`UiMetadataError`: size, encoding, JSON, the `outputs` list, an entry that is not an object with a
string `type`, too many outputs. What would only make the UI drop one viewer (an unknown type, a
missing `source`, a table without `header`...) is kept and reported as a warning, so the record
shows what the step wrote and why the UI would not show it.

Every accepted document can be stored as Postgres jsonb: bare NaN/Infinity tokens (not JSON, and
JSON.parse in the UI rejects them too), NUL characters and lone surrogates (both refused by jsonb)
are errors here rather than failed inserts later.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from runledger.indexer.error_wording import json_type, show

MAX_OUTPUTS = 100
KNOWN_TYPES = frozenset({"confusion_matrix", "markdown", "roc", "table", "tensorboard", "web-app"})
KNOWN_STORAGES = frozenset({"gcs", "s3", "minio", "http", "https", "inline"})
# WorkflowParser.parseStoragePath: the only locations the UI can read a non-inline source from.
SOURCE_SCHEMES = ("gs://", "s3://", "minio://", "http://", "https://")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UiMetadataError(ValueError):
    """The file as a whole is not usable UI metadata."""


class UiMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    outputs: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()


def parse_ui_metadata(data: bytes, *, max_bytes: int = 1 << 20, max_outputs: int = MAX_OUTPUTS) -> UiMetadata:
    """Validate one UI metadata file; raise UiMetadataError if the file itself is unusable."""
    if len(data) > max_bytes:
        raise UiMetadataError(f"UI metadata file is {len(data)} bytes, over the limit of {max_bytes} bytes")
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise UiMetadataError(f"UI metadata file is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise UiMetadataError(f"UI metadata file is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise UiMetadataError("UI metadata file nests JSON too deeply to parse") from exc
    except ValueError as exc:  # e.g. an integer literal longer than Python's 4300-digit limit
        if isinstance(exc, UiMetadataError):
            raise
        raise UiMetadataError(f"UI metadata file is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise UiMetadataError(f"UI metadata file must hold a JSON object, not {json_type(document)}")
    if "outputs" not in document:
        raise UiMetadataError("UI metadata file has no 'outputs' field")
    outputs = document["outputs"]
    if not isinstance(outputs, list):
        raise UiMetadataError(f"UI metadata field 'outputs' must be a list, not {json_type(outputs)}")
    if len(outputs) > max_outputs:
        raise UiMetadataError(f"UI metadata file has {len(outputs)} outputs, over the limit of {max_outputs}")
    for index, entry in enumerate(outputs):
        if not isinstance(entry, dict):
            raise UiMetadataError(f"outputs[{index}] must be a JSON object, not {json_type(entry)}")
        if not isinstance(entry.get("type"), str):
            raise UiMetadataError(f"outputs[{index}] must have a string 'type'")
    _check_storable(document)

    # "version" is in the older docs' examples; the UI reads nothing but "outputs".
    extra = [key for key in document if key not in ("outputs", "version")]
    warnings = [f"unknown top-level field {show(key)} ignored" for key in extra]
    for index, entry in enumerate(outputs):
        warnings.extend(f"outputs[{index}] ({show(entry['type'])}): {w}" for w in _entry_warnings(entry))
    return UiMetadata(outputs=tuple(outputs), warnings=tuple(warnings))


def _entry_warnings(entry: dict[str, Any]) -> list[str]:
    kind = entry["type"]
    if kind not in KNOWN_TYPES:
        return [f"type is not one the KFP UI renders ({', '.join(sorted(KNOWN_TYPES))}); kept, but the UI ignores it"]
    warnings: list[str] = []
    storage = entry.get("storage")
    if storage is not None and storage not in KNOWN_STORAGES:
        warnings.append(f"storage {show(storage)} is not one of {', '.join(sorted(KNOWN_STORAGES))}")
    source = entry.get("source")
    if not isinstance(source, str) or not source:
        warnings.append("no 'source' string; the UI needs one to render this output")
    elif storage != "inline" and not source.startswith(SOURCE_SCHEMES):
        # Without storage "inline" the UI treats source as a location, whatever storage says.
        warnings.append(f"source is not inline and not a {'/'.join(SOURCE_SCHEMES)} location the UI can read")
    if kind == "table":
        if not _is_list_of(entry.get("header"), str):
            warnings.append("'header' must be a list of strings for a table")
        if entry.get("format") != "csv":
            warnings.append(f"format {show(entry.get('format'))} is not 'csv', the only table format the UI reads")
    elif kind == "confusion_matrix":
        if not _is_list_of(entry.get("labels"), str):
            warnings.append("'labels' must be a list of strings for a confusion matrix")
        if _schema_names(entry) is None:
            warnings.append("'schema' must be a list of {name, type} objects for a confusion matrix")
    elif kind == "roc":
        names = _schema_names(entry)
        if names is None:
            warnings.append("'schema' must be a list of {name, type} objects for a ROC curve")
        elif not ("fpr" in names and "tpr" in names and any(n.startswith("threshold") for n in names)):
            warnings.append("'schema' of a ROC curve needs columns named fpr, tpr and threshold*")
    return warnings


def _schema_names(entry: dict[str, Any]) -> list[str] | None:
    schema = entry.get("schema")
    if not _is_list_of(schema, dict) or not all(isinstance(col.get("name"), str) for col in schema):
        return None
    return [col["name"] for col in schema]


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def _check_storable(document: Any) -> None:
    # Iterative, so depth is bounded by what json.loads accepted, not by Python's recursion limit.
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _UNSTORABLE.search(item):
            raise UiMetadataError(
                "UI metadata holds a NUL character or an unpaired surrogate, which Postgres jsonb cannot store"
            )


def _reject_constant(token: str) -> Any:
    raise UiMetadataError(f"UI metadata file is not valid JSON: {token} is not a JSON value")
