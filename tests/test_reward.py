"""Reward breakdown: hard strict/loose, soft via a scorer (or clearly unscored), aggregates, think blocks, math."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pytest

from lab.compose import curriculum, make_constraint
from lab.errors import LabError
from lab.reward import NOT_SCORED, SoftScorer, breakdown, breakdown_batch, split_thinking

TASK = "Describe a walk through an ancient forest."


class KeywordScorer:
    """A deterministic stand-in for the RM: adherence is high when the response mentions the constraint's word."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        self.calls.append(list(pairs))
        return [0.9 if "calm" in constraint and "quiet" in response else 0.2 for response, constraint in pairs]


def _row():
    cs = [
        make_constraint("change_case:english_lowercase"),
        make_constraint("soft:tone", {"tone": "calm"}),
        make_constraint("length_constraints:number_words", {"num_words": 20, "relation": "less than"}),
    ]
    return curriculum(TASK, cs, "g1", "seed")[-1]


def test_scorer_protocol() -> None:
    assert isinstance(KeywordScorer(), SoftScorer)


def test_without_a_scorer_soft_is_unscored_and_the_label_says_so() -> None:
    b = breakdown(_row(), "the path is quiet and the old trees lean close.")
    hard, soft, words = b.results
    assert (hard.passed, words.passed) == (True, True) and hard.score == 1.0
    assert soft.score is None and soft.passed is None and soft.evidence == NOT_SCORED and not soft.scored
    assert b.reward == 1.0 and b.n_scored == 2
    assert "2 of 3" in b.label and NOT_SCORED in b.label
    assert "10 words" in words.evidence


def test_mean_with_a_scorer_and_one_batched_call() -> None:
    scorer = KeywordScorer()
    b = breakdown(_row(), "The path is quiet.", soft_scorer=scorer)  # capital T fails lowercase
    assert [r.score for r in b.results] == [0.0, 0.9, 1.0]
    assert b.reward == pytest.approx((0.0 + 0.9 + 1.0) / 3)
    assert b.label.startswith("mean over 3 of 3 constraints (2 hard, 1 soft)")
    assert b.results[1].passed is True and "0.90" in b.results[1].evidence
    rows, responses = [_row()] * 4, ["quiet"] * 4
    out = breakdown_batch(rows, responses, soft_scorer=scorer)
    assert len(out) == 4 and len(scorer.calls) == 2 and len(scorer.calls[1]) == 4


def test_all_or_nothing_and_weights() -> None:
    scorer = KeywordScorer()
    good = "the path is quiet."
    assert breakdown(_row(), good, scorer, aggregate="all_or_nothing").reward == 1.0
    assert breakdown(_row(), "loud", scorer, aggregate="all_or_nothing").reward == 0.0  # soft 0.2 < 0.5
    b = breakdown(_row(), "The path is quiet.", scorer, weights=[2, 1, 1])
    assert b.reward == pytest.approx((2 * 0 + 0.9 + 1) / 4) and "weighted mean" in b.label
    b = breakdown(_row(), "The path is quiet.", scorer, weights={"soft": 0, "change_case:english_lowercase": 3})
    assert b.reward == pytest.approx((3 * 0 + 1) / 4)
    for bad, field in (([1, 1], "weights"), ([1, -1, 1], "weights")):
        with pytest.raises(LabError) as err:
            breakdown(_row(), good, weights=bad)
        assert err.value.field == field
    with pytest.raises(LabError) as err:
        breakdown(_row(), good, aggregate="median")
    assert err.value.field == "aggregate" and "all_or_nothing" in str(err.value)


def test_strict_and_loose_verdicts() -> None:
    row = curriculum(TASK, [make_constraint("startend:end_checker", {"end_phrase": "Any other questions?"})], "g", "s")[
        0
    ]
    response = "The forest is old. Any other questions?\n**"
    b = breakdown(row, response)
    (r,) = b.results
    assert r.strict is not None and r.loose is not None
    assert not r.strict.passed and r.loose.passed and r.passed is False
    assert breakdown(row, response, hard_mode="loose").reward == 1.0
    assert breakdown(row, response, loose=False).results[0].loose is None


def test_think_blocks() -> None:
    s = split_thinking("<think>plan it</think>\nThe answer.")
    assert (s.thinking, s.answer, s.closed) == ("plan it", "The answer.", True)
    assert split_thinking("reasoning only</think>answer", think_opened=True).answer == "answer"
    assert split_thinking("plain answer").thinking is None
    assert not split_thinking("<think>still thinking").closed
    assert not split_thinking("still thinking", think_opened=True).closed
    # Two blocks: the answer is what follows the LAST </think>; both blocks are reasoning, without their tags.
    two = split_thinking("<think>first</think>draft<think>second</think> Final.")
    assert (two.thinking, two.answer, two.closed) == ("first\n\ndraft\n\nsecond", "Final.", True)
    reopened = split_thinking("<think>a</think>Answer.<think>more")
    assert not reopened.closed and reopened.answer == "" and "<think>" not in reopened.thinking
    scorer = KeywordScorer()
    b = breakdown(_row(), "<think>The Forest IS LOUD, many many many words here</think>the path is quiet.", scorer)
    assert b.reward == pytest.approx(1.0 * 2 / 3 + 0.9 / 3) and b.thinking.startswith("The Forest")
    assert b.answer == "the path is quiet."
    bad = breakdown(_row(), "<think>the path is quiet and i keep going", scorer)
    assert bad.reward == 0.0 and not bad.format_ok and bad.flags == ("unclosed_think",)
    assert bad.thinking == "the path is quiet and i keep going" and "never closed" in bad.label
    assert all(r.score == 0.0 for r in bad.results) and len(scorer.calls) == 1  # unclosed answers are not scored


def test_math_rows() -> None:
    row = {"prompt": "2+2?", "source": "math", "answer": "4", "instruction_id_list": [], "kwargs": []}
    b = breakdown(row, "<think>2 and 2</think>So \\boxed{4}.")
    assert b.reward == 1.0 and b.math.correct and b.math.boxed == "4" and "boxed" in b.label
    assert breakdown(row, "\\boxed{5}").reward == 0.0
    assert breakdown(row, "4").reward == 0.0
    assert breakdown(row, "<think>\\boxed{4}").reward == 0.0
    lenient = {**row, "answer_match": "last_number"}
    assert breakdown(lenient, "2 and 2 make 4.").reward == 1.0 and "last number" in breakdown(lenient, "4").label
    assert breakdown(lenient, "\\boxed{4}").math.boxed == "4" and breakdown(lenient, "4, no, 5").reward == 0.0
    assert breakdown(lenient, "<think>so 4").reward == 0.0  # an unclosed think block is still a format failure


def test_ifeval_style_rows_json_and_nulls() -> None:
    row = {
        "prompt": "Write about forests. Answer with less than 20 words.",
        "instruction_id_list": json.dumps(["length_constraints:number_words", "punctuation:no_comma"]),
        "kwargs": json.dumps([{"num_words": 20, "relation": "less than", "keyword": None}, {}]),
    }
    b = breakdown(row, "Trees stand tall.")
    assert b.reward == 1.0 and len(b.results) == 2 and b.results[0].text  # text rebuilt from the params
    assert breakdown({"instruction_id_list": [], "kwargs": []}, "hi").reward is None
    assert (
        "nothing scored"
        in breakdown(curriculum(TASK, [make_constraint("soft:tone", {"tone": "calm"})], "g", "s")[0], "x").label
    )


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, "kwargs"),
        ({"instruction_id_list": ["no:such_type"], "kwargs": [{}]}, "instruction_id"),
        (
            {"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": -3}]},
            "length_constraints:number_words.num_words",
        ),
        ({"instruction_id_list": "not json", "kwargs": []}, "instruction_id_list"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": ["{oops"]}, "kwargs"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "constraints": ["a", "b"]}, "constraints"),
    ],
)  # fmt: skip
def test_bad_rows_name_the_field(row: dict, field: str) -> None:
    with pytest.raises(LabError) as err:
        breakdown(row, "text")
    assert err.value.field == field


def test_scorer_returning_the_wrong_count_is_refused() -> None:
    class Broken:
        def score(self, pairs):
            return [0.5]

    with pytest.raises(LabError, match="2 pairs"):
        breakdown_batch([_row(), _row()], ["a", "b"], soft_scorer=Broken())


def test_to_dict_is_json_ready() -> None:
    d = breakdown(_row(), "the path is quiet.", KeywordScorer()).to_dict()
    text = json.dumps(d)
    assert json.loads(text)["results"][1]["score"] == 0.9
    assert math.isclose(d["reward"], (1 + 0.9 + 1) / 3)
