"""Each source that decodes JSON text marks what it decoded nul_free exactly when the text held no
\\u0000 escape (so translation skips its search only then); YAML is never marked, whatever it holds."""

from __future__ import annotations

import orjson
import pytest
import yaml

from runledger.agent.replay import ReplayErrors, read_events
from runledger.backfill.importing import parse_workflow
from tests.support.nul_objects import FIXTURE, workflow_with_nul
from tests.support.workflows import load


@pytest.mark.parametrize("with_nul", [False, True], ids=["clean", "nul"])
@pytest.mark.parametrize("form", ["jsonl", "pretty-json", "list", "yaml"])
def test_a_replayed_file_marks_its_events_by_their_text(form, with_nul, tmp_path):
    obj = workflow_with_nul() if with_nul else orjson.loads(orjson.dumps(load(FIXTURE)))
    event = {"type": "ADDED", "object": obj, "nul_free": True}  # a file cannot vouch for itself
    path = tmp_path / f"events.{'yaml' if form == 'yaml' else 'json'}"
    if form == "jsonl":
        path.write_bytes(orjson.dumps(event) + b"\n")
    elif form == "pretty-json":
        path.write_bytes(orjson.dumps(event, option=orjson.OPT_INDENT_2) + b"\n")
    elif form == "list":
        path.write_bytes(orjson.dumps({"kind": "WorkflowList", "items": [obj]}) + b"\n")
    else:
        path.write_text(yaml.safe_dump({"type": "ADDED", "object": obj}))
    events = list(read_events(path, ReplayErrors()))
    assert len(events) == 1
    assert events[0].nul_free is (form != "yaml" and not with_nul)


@pytest.mark.parametrize("text", ['{"kind": "Workflow"}', b'{"kind": "Workflow"}'], ids=["str", "bytes"])
def test_an_imported_row_is_marked_when_its_text_holds_no_nul_escape(text):
    assert parse_workflow(text, key="k", ref="r").nul_free is True


@pytest.mark.parametrize("text", ['{"kind": "Work\\u0000flow"}', b'{"kind": "Workflow", "m": "\\u0000"}'], ids=["str", "bytes"])
def test_an_imported_row_whose_text_holds_a_nul_escape_is_not_marked(text):
    assert parse_workflow(text, key="k", ref="r").nul_free is False
