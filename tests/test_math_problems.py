"""Generated math problems: right answers (re-solved independently), deterministic, train/probe disjoint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.math_problems import (
    TEMPLATES,
    answer_matches,
    extract_boxed,
    flexible_matches,
    generate_math_problems,
    last_number,
    normalise_answer,
    problem_split,
)


def _nums(q: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", q)]


# Independent solvers: read the numbers back out of the text, in order of appearance.
SOLVERS = {
    "distance": lambda n: n[0] * n[1],
    "sharing": lambda n: n[0] // n[1],
    "shopping": lambda n: n[0] * n[1] - n[2],
    "savings": lambda n: n[0] * n[1] - n[2],
    "recipe": lambda n: n[0] * n[2] // n[1],
    "reading": lambda n: n[0] - n[1] * n[2],
    "factory": lambda n: n[0] * n[1] * n[2],
    "discount": lambda n: n[0] * (100 - n[1]) // 100,
    "ages": lambda n: n[0] + n[1] + n[2],
    "tickets": lambda n: n[0] * n[2] + n[1] * n[3],
    "fence": lambda n: 2 * (n[0] + n[1]) * n[2],
    "bus": lambda n: n[0] - n[1] + n[2] - n[3],
}


def test_answers_are_right_integers_and_steps_cover_1_to_3() -> None:
    problems = generate_math_problems(600, seed=3)
    assert {p.template for p in problems} == set(TEMPLATES) == set(SOLVERS)
    assert {p.steps for p in problems} == {1, 2, 3}
    for p in problems:
        assert isinstance(p.answer, int) and p.answer >= 0
        assert SOLVERS[p.template](_nums(p.question)) == p.answer, p.question
        assert "\\boxed{}" in p.prompt and p.prompt.startswith(p.question)


def test_deterministic_distinct_and_seeded() -> None:
    a = generate_math_problems(200, seed=11)
    assert a == generate_math_problems(200, seed=11)
    assert len({p.question for p in a}) == 200 and len({p.id for p in a}) == 200
    assert [p.question for p in a] != [p.question for p in generate_math_problems(200, seed=12)]
    assert generate_math_problems(50, seed=11) == a[:50]  # a prefix does not depend on n


def test_train_and_probe_are_disjoint_by_construction() -> None:
    train = {p.question for s in range(3) for p in generate_math_problems(400, seed=s, split="train")}
    probe = {p.question for s in range(3) for p in generate_math_problems(150, seed=s, split="probe")}
    assert train and probe and not train & probe
    assert all(problem_split(q) == "train" for q in train) and all(problem_split(q) == "probe" for q in probe)


def test_bad_arguments() -> None:
    with pytest.raises(LabError) as err:
        generate_math_problems(5, split="test")
    assert err.value.field == "split" and "probe" in str(err.value)
    with pytest.raises(LabError) as err:
        generate_math_problems(-1)
    assert err.value.field == "n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{42}.", "42"),
        ("first \\boxed{1} then \\boxed{ 7 }", " 7 "),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("no box here", None),
        ("\\boxed{unclosed", None),
        ("\\boxed{3} and an unclosed \\boxed{4", "3"),
        ("\\fbox{9}", "9"),
    ],
)
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


def test_answer_matching() -> None:
    assert normalise_answer(" 1,234 ") == "1234" and normalise_answer("$56$") == "56"
    assert normalise_answer("\\text{12}") == "12" and normalise_answer("7.0") == "7"
    assert answer_matches("The answer is \\boxed{1,234}.", 1234) == (True, "1,234")
    assert answer_matches("\\boxed{12} no wait \\boxed{13}", "12") == (False, "13")
    assert answer_matches("12", "12") == (False, None)  # must be boxed
    assert answer_matches("\\boxed{12.5}", "12") == (False, "12.5")


FLEXIBLE_CASES = [
    "The answer is 1,100.",
    "10 * 11 = 110 toys per hour, so 1100 toys in 10 hours",
    "It costs $232.",
    "First 290 * 0.2 = 58.0. Then 290 - 58 = 232.00",
    "no numbers at all",
    "x = -7 and then 3",
    "Ends with a lone 5",
    "Step 1... step 2... 12.5 apples",
    "Temperatures of -3, -4",
    "#### 42",
    "a, b, c.",
]


@pytest.mark.parametrize("response", FLEXIBLE_CASES)
def test_flexible_extract_matches_lm_eval(response: str) -> None:
    """Our last-number extraction and match are lm-eval's gsm8k "flexible-extract" filter and exact_match."""
    import yaml
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    task = Path(__import__("lm_eval").__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    config = yaml.safe_load(task.read_text())
    flexible = next(f for f in config["filter_list"] if f["name"] == "flexible-extract")["filter"][0]
    metric = config["metric_list"][0]
    regex = RegexFilter(regex_pattern=flexible["regex_pattern"], group_select=flexible["group_select"])
    extracted = next(iter(regex.apply([[response]], [{}])))[0]
    assert (last_number(response) or "[invalid]") == extracted
    for expected in ("1100", "232", "-7", "3", "5", "12", "42", "-4"):
        reference = exact_match_hf_evaluate(
            [extracted],
            [expected],
            regexes_to_ignore=metric["regexes_to_ignore"],
            ignore_case=metric["ignore_case"],
            ignore_punctuation=metric["ignore_punctuation"],
        )["exact_match"]
        assert flexible_matches(response, expected) == bool(reference), (response, expected)


def test_flexible_is_lenient_where_boxed_is_strict() -> None:
    assert flexible_matches("so they make 1100 toys", 1100) and not answer_matches("so they make 1100 toys", 1100)[0]
    assert flexible_matches("\\boxed{1,100}", "1100")
    assert not flexible_matches("1100 toys, 10 hours", "1100")  # the last number decides


def test_rows_have_the_curriculum_shape() -> None:
    p = generate_math_problems(1, seed=0)[0]
    row = p.as_row()
    assert row["source"] == "math" and row["answer"] == str(p.answer)
    assert row["instruction_id_list"] == [] and row["kwargs"] == [] and row["level"] == 0
    assert row["prompt"] == p.prompt


# ---------------------------------------------------------------- arith-probe's easy problems (lab.arith_problems)

ARITH_SOLVERS = {
    "gets_more": lambda n: n[0] + n[1],
    "gives_away": lambda n: n[0] - n[1],
    "groups": lambda n: n[0] * n[1],
    "cost": lambda n: n[0] * n[1],
    "together": lambda n: n[0] + n[1],
    "colours": lambda n: n[0] + n[1],
    "rows": lambda n: n[0] * n[1],
    "pages": lambda n: n[0] + n[1],
    "rows_plus": lambda n: n[0] * n[1] + n[2],
    "groups_plus": lambda n: n[0] * n[1] + n[2],
}


def test_arith_answers_are_right_small_and_one_or_two_steps() -> None:
    from lab.arith_problems import ARITH_TEMPLATES, INSTRUCTION, generate_arith_problems

    problems = generate_arith_problems(400, seed=3)
    assert {p.template for p in problems} == set(ARITH_TEMPLATES) == set(ARITH_SOLVERS)
    assert {p.steps for p in problems} == {1, 2}
    assert sum(p.steps == 1 for p in problems) == 320  # eight one-step templates of ten, in turn
    for p in problems:
        assert ARITH_SOLVERS[p.template](_nums(p.question)) == p.answer, p.question
        assert isinstance(p.answer, int) and 0 < p.answer <= 30 and max(_nums(p.question)) <= 12
        assert p.prompt == f"{p.question}\n\n{INSTRUCTION}" and "\\boxed{}" in p.prompt
        assert "step by step" not in p.prompt  # a 135M model asked for steps runs out of tokens
        assert p.as_row()["prompt"] == p.prompt and p.as_row()["answer"] == str(p.answer)


def test_arith_deterministic_distinct_and_seeded() -> None:
    from lab.arith_problems import generate_arith_problems

    a = generate_arith_problems(200, seed=11)
    assert a == generate_arith_problems(200, seed=11)
    assert len({p.question for p in a}) == 200 and len({p.id for p in a}) == 200
    assert all(p.id.startswith("arith-probe-11-") and p.split == "probe" for p in a)
    assert [p.question for p in a] != [p.question for p in generate_arith_problems(200, seed=12)]
    assert generate_arith_problems(30, seed=11) == a[:30]


def test_arith_probe_is_disjoint_from_every_training_question() -> None:
    from lab.arith_problems import generate_arith_problems

    probe = {p.question for s in range(3) for p in generate_arith_problems(200, seed=s)}
    arith_train = {p.question for s in range(3) for p in generate_arith_problems(400, seed=s, split="train")}
    math_train = {p.question for s in range(3) for p in generate_math_problems(400, seed=s, split="train")}
    math_probe = {p.question for p in generate_math_problems(200, seed=0, split="probe")}
    assert probe and arith_train and not probe & (arith_train | math_train | math_probe)
    # Disjoint by construction: the same hash split as lab.math_problems decides each question's side.
    assert all(problem_split(q) == "probe" for q in probe) and all(problem_split(q) == "train" for q in arith_train)


def test_arith_bad_arguments() -> None:
    from lab.arith_problems import generate_arith_problems

    with pytest.raises(LabError) as err:
        generate_arith_problems(5, split="test")
    assert err.value.field == "split"
    for bad in (-1, True, 2.0):
        with pytest.raises(LabError) as err:
            generate_arith_problems(bad)  # type: ignore[arg-type]
        assert err.value.field == "n"
