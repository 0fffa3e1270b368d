"""Composer: conflict-free sampling, the L1..Ln curriculum as prefixes, and the IFEval/verl row shape."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.compose import Constraint, compose_prompt, curriculum, make_constraint, sample_constraints
from lab.constraints import all_types, get_type
from lab.constraints.conflicts import find_conflict, minimum_words, pair_conflict, type_conflicts
from lab.constraints.hard import CONFLICTS
from lab.constraints.ifeval_modes import check_hard
from lab.errors import LabError

TASK = "Describe a walk through an ancient forest, from the first step to the last."
ROW_KEYS = {"prompt", "instruction_id_list", "kwargs", "constraints", "level", "group_id", "source", "task"}


def _items(cs: list[Constraint]) -> list[tuple[str, dict]]:
    return [(c.type_id, dict(c.params)) for c in cs]


@given(seed=st.integers(0, 10**9), n=st.integers(1, 6), soft_ratio=st.floats(0, 1))
@settings(max_examples=150, deadline=None)
def test_sampled_sets_never_contain_a_conflict_pair(seed: int, n: int, soft_ratio: float) -> None:
    cs = sample_constraints(random.Random(seed), n, soft_ratio, task=TASK)
    assert len(cs) == n
    ids = [c.type_id for c in cs]
    assert len(set(ids)) == n  # one constraint per type, as in IFEval
    for i, a in enumerate(ids):  # checked against IFEval's table directly, not only through our helper
        for b in ids[i + 1 :]:
            assert b not in CONFLICTS.get(a, ()) and a not in CONFLICTS.get(b, ())
            assert b not in get_type(a).conflicts
    assert find_conflict(_items(cs)) is None
    for c in cs:
        assert c.text == c.text.strip() and c.text
        assert get_type(c.type_id).validate(c.params) == dict(c.params)


@given(seed=st.integers(0, 10**9), n=st.integers(1, 6))
@settings(max_examples=100, deadline=None)
def test_level_k_is_level_k_minus_1_plus_c_k(seed: int, n: int) -> None:
    cs = sample_constraints(random.Random(seed), n, 0.6, task=TASK)
    rows = curriculum(TASK, cs, group_id=f"g{seed}", source="seed")
    assert [r["level"] for r in rows] == list(range(1, n + 1))
    assert rows[0]["prompt"] == TASK + "\n\n" + cs[0].text
    for k in range(1, n):
        prev, row = rows[k - 1], rows[k]
        assert row["instruction_id_list"] == prev["instruction_id_list"] + [cs[k].type_id]
        assert row["kwargs"] == prev["kwargs"] + [dict(cs[k].params)]
        assert row["constraints"] == prev["constraints"] + [cs[k].text]
        assert row["prompt"] == prev["prompt"] + " " + cs[k].text
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["group_id"] == f"g{seed}" and row["source"] == "seed" and row["task"] == TASK
        assert len(row["instruction_id_list"]) == len(row["kwargs"]) == len(row["constraints"]) == row["level"]


def test_sampling_is_deterministic_and_mixes_kinds() -> None:
    a = sample_constraints(random.Random(7), 5, 0.6, task=TASK)
    b = sample_constraints(random.Random(7), 5, 0.6, task=TASK)
    assert a == b
    rng = random.Random(1)
    kinds = [c.kind for _ in range(300) for c in sample_constraints(rng, 5, 0.6, task=TASK)]
    share = kinds.count("soft") / len(kinds)
    assert 0.5 < share < 0.7
    assert all(c.kind == "hard" for c in sample_constraints(random.Random(3), 4, 0.0, task=TASK))
    assert all(c.kind == "soft" for c in sample_constraints(random.Random(3), 4, 1.0, task=TASK))


def test_every_type_is_reachable_except_free_text_and_constrained_response() -> None:
    rng = random.Random(0)
    seen = {c.type_id for _ in range(1500) for c in sample_constraints(rng, 3, 0.5, task=TASK)}
    # By default IFEval's and soft types (IFBench's are out-of-domain; tests/test_ood_eval.py samples them).
    default = {t.id for t in all_types() if t.family in ("ifeval", "soft")}
    expected = default - {"soft:free_text", "detectable_format:constrained_response"}
    assert expected <= seen
    # constrained_response conflicts with everything, so it can only ever appear alone
    alone = {c.type_id for s in range(400) for c in sample_constraints(random.Random(s), 1, 0.0)}
    assert "detectable_format:constrained_response" in alone


def test_repeat_prompt_repeats_the_task_and_can_be_satisfied() -> None:
    rng = random.Random(0)
    for _ in range(200):
        cs = sample_constraints(
            rng, 2, 0.0, task=TASK, include=["combination:repeat_prompt", "detectable_format:title"]
        )
        rp = [c for c in cs if c.type_id == "combination:repeat_prompt"]
        if rp:
            break
    assert rp and rp[0].params["prompt_to_repeat"] == TASK
    assert check_hard("combination:repeat_prompt", TASK + "\n<<Forest>> The path was quiet.", rp[0].params).passed
    never = {c.type_id for s in range(200) for c in sample_constraints(random.Random(s), 2, 0.0)}
    assert "combination:repeat_prompt" not in never  # without a task it cannot be sampled


def test_include_exclude_and_errors() -> None:
    cs = sample_constraints(random.Random(0), 3, 0.5, include=["soft:tone", "soft:humour", "punctuation:no_comma"])
    assert {c.type_id for c in cs} <= {"soft:tone", "soft:humour", "punctuation:no_comma"}
    assert not any(
        c.type_id == "soft:tone"
        for s in range(50)
        for c in sample_constraints(random.Random(s), 3, 1.0, exclude=["soft:tone"])
    )
    with pytest.raises(LabError) as err:
        sample_constraints(random.Random(0), 3, 0.5, include=["soft:tone", "soft:emotion"])
    assert err.value.field == "n"
    with pytest.raises(LabError) as err:
        sample_constraints(random.Random(0), 0)
    assert err.value.field == "n"
    with pytest.raises(LabError) as err:
        sample_constraints(random.Random(0), 2, soft_ratio=1.5)
    assert err.value.field == "soft_ratio"
    with pytest.raises(LabError) as err:
        compose_prompt("   ", [])
    assert err.value.field == "task"


def test_conflict_table_mirrors_ifeval_and_is_symmetric() -> None:
    table = type_conflicts()
    for a, others in table.items():
        assert a in others
        for b in others:
            assert a in table[b]
    assert "change_case:english_capital" in table["change_case:english_lowercase"]
    assert "detectable_format:number_bullet_lists" in table["detectable_format:json_format"]
    assert "keywords:existence" not in table["detectable_format:json_format"]
    assert (
        "soft:form" in table["detectable_format:json_format"]
        and "soft:audience" not in table["detectable_format:json_format"]
    )
    assert "soft:tone" in table["detectable_format:constrained_response"]
    assert "soft:emotion" in table["soft:tone"]


SECTIONS_UPPER = {"section_spliter": "SECTION", "num_sections": 2}
SECTIONS_TITLE = {"section_spliter": "Section", "num_sections": 3}
FIRST_WORD = {"num_paragraphs": 3, "nth_paragraph": 1, "first_word": "so"}
UNDER_50 = {"num_words": 50, "relation": "less than"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("change_case:english_lowercase", {}), ("detectable_format:multiple_sections", SECTIONS_UPPER)),
        (("change_case:english_capital", {}), ("detectable_format:multiple_sections", SECTIONS_TITLE)),
        (
            ("keywords:forbidden_words", {"forbidden_words": ["river", "ocean"]}),
            ("keywords:existence", {"keywords": ["Ocean"]}),
        ),
        (
            ("keywords:forbidden_words", {"forbidden_words": ["help"]}),
            ("startend:end_checker", {"end_phrase": "Any help?"}),
        ),
        (("punctuation:no_comma", {}), ("combination:repeat_prompt", {"prompt_to_repeat": TASK})),
        (("soft:verbosity", {"detail": "detailed and thorough"}), ("length_constraints:number_words", UNDER_50)),
        (("soft:humour", {"style": "dry and deadpan"}), ("soft:tone", {"tone": "serious"})),
        (("soft:opening", {"opening": "a bold claim"}), ("length_constraints:nth_paragraph_first_word", FIRST_WORD)),
        (
            ("soft:closing", {"closing": "a clear call to action"}),
            ("startend:end_checker", {"end_phrase": "Any questions?"}),
        ),
    ],
)
def test_parameter_clashes_are_conflicts_in_either_order(a, b) -> None:
    assert pair_conflict(a, b) and pair_conflict(b, a)


def test_compatible_values_of_the_same_types_are_allowed() -> None:
    lower = ("change_case:english_lowercase", {})
    assert (
        pair_conflict(lower, ("detectable_format:multiple_sections", {"section_spliter": "section", "num_sections": 2}))
        is None
    )
    assert (
        pair_conflict(
            ("keywords:forbidden_words", {"forbidden_words": ["river"]}),
            ("keywords:existence", {"keywords": ["ocean"]}),
        )
        is None
    )
    assert pair_conflict(("soft:humour", {"style": "dry and deadpan"}), ("soft:tone", {"tone": "warm"})) is None


def test_clashes_are_real_according_to_the_checkers() -> None:
    # A response that satisfies "SECTION" headers cannot be all lowercase, and vice versa.
    sections = {"section_spliter": "SECTION", "num_sections": 2}
    response = "SECTION 1\nthe forest is old.\nSECTION 2\nthe path is quiet."
    assert check_hard("detectable_format:multiple_sections", response, sections).passed
    assert not check_hard("change_case:english_lowercase", response, {}).passed
    assert not check_hard("detectable_format:multiple_sections", response.lower(), sections).passed


def test_word_budget_leaves_room_for_structure() -> None:
    few = ("length_constraints:number_words", {"num_words": 20, "relation": "less than"})
    assert find_conflict([few, ("length_constraints:number_paragraphs", {"num_paragraphs": 4})])
    assert find_conflict([few, ("detectable_format:title", {})]) is None
    assert minimum_words([("detectable_format:number_bullet_lists", {"num_bullets": 4})]) > minimum_words([])


def test_curriculum_refuses_contradictions_and_empty_sets() -> None:
    bad = [make_constraint("change_case:english_lowercase"), make_constraint("change_case:english_capital")]
    with pytest.raises(LabError, match="contradict"):
        curriculum(TASK, bad, "g", "seed")
    with pytest.raises(LabError):
        curriculum(TASK, [], "g", "seed")


def test_make_constraint_validates_params() -> None:
    with pytest.raises(LabError) as err:
        make_constraint("length_constraints:number_words", {"num_words": "many", "relation": "less than"})
    assert "num_words" in err.value.field
    c = make_constraint("soft:tone", {"tone": "calm"}, variant=2)
    assert c.text == get_type("soft:tone").phrasings[2].format(tone="calm")
