"""Lineage node refs and query strings: what parses, and what is refused with a 400 before any SQL."""

from __future__ import annotations

import pytest
from multidict import MultiDict, MultiDictProxy

from runledger.api.query_params import parse_lineage_query
from runledger.store.read_errors import BadRequest
from runledger.store.lineage_graph import LineageQuery, NodeRef, parse_ref


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("artifact:42", NodeRef(kind="artifact", artifact_id=42)),
        ("artifact:s3://mlpipeline/runs/a/b.tgz", NodeRef(kind="artifact", uri="s3://mlpipeline/runs/a/b.tgz")),
        ("step:0b7c-uid/wf-abc-123", NodeRef(kind="step", run_id="0b7c-uid", step_id="wf-abc-123")),
        ("step:uid/node/with/slashes", NodeRef(kind="step", run_id="uid", step_id="node/with/slashes")),
        ("run:0b7c-uid", NodeRef(kind="run", run_id="0b7c-uid")),
    ],
)
def test_refs_name_an_artifact_a_step_or_a_run(text, ref):
    assert parse_ref(text) == ref


@pytest.mark.parametrize(
    "text",
    [
        "", "42", "job:1", "Artifact:1", "artifact:", "artifact:1.5", "artifact:-3", "artifact:0", "artifact:١٢",
        f"artifact:{2**63}", "artifact:s3://", "artifact:s3://bucket", "artifact:s3://bucket/", "artifact:s3:///key", "artifact:gs://b/k", "step:", "step:uid",
        "step:/node", "step:uid/", "step:u id/node", "run:", "run:a/b", "run:a b", "run:" + "x" * 254,
    ],
)  # fmt: skip
def test_malformed_refs_are_bad_requests(text):
    with pytest.raises(BadRequest):
        parse_ref(text)


def query(**params: str) -> LineageQuery:
    return parse_lineage_query(MultiDictProxy(MultiDict(params)))


def test_defaults_are_both_directions_five_hops_and_500_nodes():
    assert query(node="run:x") == LineageQuery(node="run:x", direction="both", depth=5, limit=500)
    assert query(node="run:x", direction="upstream", depth="100", limit="2000").depth == 100


@pytest.mark.parametrize(
    "params",
    [
        {}, {"node": "nope"}, {"node": "run:x", "depth": "0"}, {"node": "run:x", "depth": "101"},
        {"node": "run:x", "limit": "2001"}, {"node": "run:x", "direction": "up"}, {"node": "run:x", "x": "1"},
    ],
)  # fmt: skip
def test_bad_query_strings_are_bad_requests(params):
    with pytest.raises(BadRequest):
        query(**params)


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(BadRequest, match="more than once"):
        parse_lineage_query(MultiDictProxy(MultiDict([("node", "run:a"), ("node", "run:b")])))
