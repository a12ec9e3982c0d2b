"""The peer benchmark's dataset is a pure function of its seed, and any two systems that disagree fail it."""

from __future__ import annotations

import pytest

from bench import peer_data


def test_one_seed_gives_byte_identical_datasets_and_another_seed_does_not() -> None:
    first, again = peer_data.generate(runs=120, seed=3), peer_data.generate(runs=120, seed=3)
    assert first.to_json() == again.to_json()
    assert peer_data.generate(runs=120, seed=4).to_json() != first.to_json()


def test_lineage_chains_are_deeper_than_the_deepest_question() -> None:
    dataset = peer_data.generate(runs=200)
    assert peer_data.longest_chain_hops(dataset) >= max(60, *peer_data.LINEAGE_HOPS)


def test_every_question_is_asked_of_the_newest_runs_model() -> None:
    dataset = peer_data.generate(runs=50)
    lineage = [q for q in peer_data.questions(dataset) if q["id"].startswith("lineage_")]
    assert {q["uri"] for q in lineage} == {dict(dataset.runs[-1].steps[2].outputs)["model"]}


def test_answers_of_different_sizes_fail_naming_the_question_and_the_sizes() -> None:
    answers = {
        "runledger": {"adam": ["run-1", "run-2"], "newest": ["run-1"]},
        "MLflow": {"adam": ["run-1"], "newest": ["run-1"]},
    }
    with pytest.raises(peer_data.AnswersDiffer, match=r"adam: answer sizes differ: \{'runledger': 2, 'MLflow': 1\}"):
        peer_data.check_answers(answers)


def test_answers_of_one_size_but_other_items_fail_too() -> None:
    with pytest.raises(peer_data.AnswersDiffer, match="newest: MLMD and runledger return different items"):
        peer_data.check_answers({"runledger": {"newest": ["run-1"]}, "MLMD": {"newest": ["run-2"]}})


def test_a_question_a_system_cannot_answer_is_left_out_of_the_check() -> None:
    peer_data.check_answers({"runledger": {"lineage_2": ["a", "b"]}, "MLflow": {}, "MLMD": {"lineage_2": ["b", "a"]}})
