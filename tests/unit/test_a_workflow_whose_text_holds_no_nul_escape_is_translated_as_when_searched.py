"""A source that decoded an object from JSON text without a \\u0000 escape tells translation so, and
translation then skips its own search for NUL characters: the state is the same as with the search,
for every real fixture; a text holding a NUL anywhere never passes."""

from __future__ import annotations

import orjson
import pytest

from runledger.agent.pod_facts import translate_pod
from runledger.agent.translate import text_holds_no_nul, translate_workflow
from tests.support.nul_objects import pod_with_nul, workflow_with_nul
from tests.support.pods import pod_of_step
from tests.support.real_objects import fixture_files
from tests.support.workflows import compressed, load, raw_nodes

FIXTURES = fixture_files()
IDS = [f"{p.parent.name}/{p.name}" for p in FIXTURES]
WITH_NODES = [p for p in FIXTURES if raw_nodes(load(p))]


@pytest.fixture(params=FIXTURES, ids=IDS)
def text(request) -> bytes:
    return orjson.dumps(load(request.param))


def test_every_real_fixture_translates_to_the_same_state_told_its_text_holds_no_nul(text):
    assert text_holds_no_nul(text) and text_holds_no_nul(text.decode())
    told = translate_workflow(orjson.loads(text), nul_free=True)
    assert told == translate_workflow(orjson.loads(text))
    assert "nul" not in [w.split(":")[0] for w in told.warnings]


@pytest.mark.parametrize("path", WITH_NODES, ids=[f"{p.parent.name}/{p.name}" for p in WITH_NODES])
def test_every_real_fixture_with_compressed_nodes_translates_to_the_same_state_told_its_text_holds_no_nul(path):
    packed = orjson.dumps(compressed(load(path)))
    assert translate_workflow(orjson.loads(packed), nul_free=True) == translate_workflow(orjson.loads(packed))


def test_the_pods_of_every_real_fixture_translate_to_the_same_observation_told_their_text_holds_no_nul(text):
    workflow = orjson.loads(text)
    nodes = [n for n in raw_nodes(workflow).values() if n.get("type") == "Pod" and n.get("startedAt") and n.get("finishedAt")]
    for node in nodes:
        pod = orjson.dumps(pod_of_step(workflow, node))
        assert text_holds_no_nul(pod)
        assert translate_pod(orjson.loads(pod), nul_free=True) == translate_pod(orjson.loads(pod))


@pytest.mark.parametrize("obj", [workflow_with_nul(), pod_with_nul(), {"k\x00": 1}], ids=["workflow", "pod", "key"])
@pytest.mark.parametrize("dumps", [orjson.dumps, lambda o: orjson.dumps(o, option=orjson.OPT_INDENT_2).decode()],
                         ids=["bytes", "indented-str"])  # fmt: skip
def test_a_text_holding_a_nul_anywhere_never_passes(obj, dumps):
    assert not text_holds_no_nul(dumps(obj))


def test_a_raw_nul_character_is_not_json_so_no_text_can_hide_one():
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(b'{"name": "a\x00b"}')


def test_an_escaped_backslash_before_u0000_only_costs_the_search():
    workflow = workflow_with_nul(message="C:\\u0000 is a path, not a NUL")
    workflow = {**workflow, "metadata": {k: v for k, v in workflow["metadata"].items() if k != "labels"}}
    text = orjson.dumps(workflow)
    assert not text_holds_no_nul(text)
    state = translate_workflow(orjson.loads(text))
    assert any(s.message == "C:\\u0000 is a path, not a NUL" for s in state.steps)
