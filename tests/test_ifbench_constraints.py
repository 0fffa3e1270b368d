"""IFBench's 58 types in the catalogue: family, kwargs names and texts as IFBench has them, conflicts, reference
notes, and the same API as the IFEval types (composer, breakdown, TRL and verl adapters, lab.verify row errors).
Agreement with the reference checkers is tests/test_ifbench_agreement.py."""

from __future__ import annotations

import io
import json
import random

import pytest

from lab.compose import curriculum, make_constraint, sample_constraints
from lab.constraints import all_types, get_type
from lab.constraints.conflicts import find_conflict, type_conflicts
from lab.constraints.hard import HARD_IDS, IFBENCH_IDS
from lab.constraints.hard.ifbench_conflicts import WHOLE_ANSWER
from lab.constraints.ifeval_modes import check_hard_modes
from lab.errors import LabError
from lab.reward import breakdown
from lab.trl_reward import make_trl_reward
from lab.verify import verify_lines
from lab.verl_reward import compute_score

TASK = "Describe a walk through an ancient forest."


def test_catalogue_has_both_families_and_exposes_them() -> None:
    assert len(IFBENCH_IDS) == len(set(IFBENCH_IDS)) == 58
    assert {t.id for t in all_types("hard", "ifbench")} == set(IFBENCH_IDS)
    assert {t.id for t in all_types("hard", "ifeval")} == set(HARD_IDS)
    assert all(t.family == "soft" for t in all_types("soft")) and all_types(family="soft")
    assert {t.family for t in all_types()} == {"ifeval", "ifbench", "soft"}
    for type_id in IFBENCH_IDS:
        ctype = get_type(type_id)
        assert ctype.kind == "hard" and ctype.group == type_id.split(":")[0]
    with pytest.raises(LabError) as caught:
        all_types(family="ifbench2")  # type: ignore[arg-type]
    assert caught.value.field == "family"


@pytest.fixture(scope="module")
def reference():
    from tests.ifbench_reference import load_reference

    try:
        return load_reference()
    except ImportError as error:
        pytest.skip(f"IFBench reference not importable ({error})")


@pytest.mark.parametrize("type_id", IFBENCH_IDS)
def test_kwargs_and_instruction_text_are_ifbenchs(type_id: str, reference) -> None:
    ctype = get_type(type_id)
    params = ctype.sample_params(random.Random(3))
    from tests.ifbench_reference import CURRENT_DESCRIPTIONS

    checker = reference[type_id](type_id)
    text = checker.build_description(**params)
    if type_id in CURRENT_DESCRIPTIONS:  # instruction texts AllenAI has changed since if-verifiable's revision
        text = CURRENT_DESCRIPTIONS[type_id].format(**params)
    assert sorted(p.name for p in ctype.params) == sorted(checker.get_instruction_args_keys() or [])
    ours = ctype.describe(params)
    if type_id in ("ratio:overlap", "repeat:repeat_span"):  # the text to use rides along in a composed prompt
        assert ours.startswith(text) and params.get("reference_text", params.get("prompt_to_repeat")) in ours
    else:
        assert ours == text


def test_whole_answer_types_conflict_with_everything_and_rules_clash_where_obvious() -> None:
    table = type_conflicts()
    everything = {t.id for t in all_types()}
    for type_id in WHOLE_ANSWER:
        assert table[type_id] == everything, type_id
    for a, b in [
        ("format:title_case", "change_case:english_lowercase"),
        ("format:title_case", "change_case:english_capital"),
        ("count:word_count_range", "length_constraints:number_words"),
        ("format:quote_unquote", "startend:quotation"),
        ("ratio:sentence_type", "ratio:sentence_balance"),
        ("count:punctuation", "punctuation:no_comma"),
        ("format:sub-bullets", "detectable_format:number_bullet_lists"),
        ("words:alphabet", "keywords:existence"),
    ]:
        assert b in table[a] and a in table[b], (a, b)
    assert "count:pronouns" not in table["punctuation:no_comma"]
    forbidden = ("keywords:forbidden_words", {"forbidden_words": ["river"]})
    assert "forbids" in find_conflict([forbidden, ("sentence:keyword", {"word": "river", "N": 1})])
    assert find_conflict([forbidden, ("words:words_position", {"keyword": "ocean"})]) is None


def test_ifbench_types_are_sampled_only_when_asked_for_and_conflict_free() -> None:
    rng = random.Random(0)
    default = {c.type_id for _ in range(300) for c in sample_constraints(rng, 3, 0.3, task=TASK)}
    assert not default & set(IFBENCH_IDS)  # out-of-domain by default
    seen = set()
    for seed in range(300):
        chosen = sample_constraints(random.Random(seed), 3, 0.0, task=TASK, include=IFBENCH_IDS)
        assert find_conflict([(c.type_id, c.params) for c in chosen]) is None
        seen |= {c.type_id for c in chosen}
    assert seen == set(IFBENCH_IDS) - WHOLE_ANSWER  # those exclude everything else, so they come alone
    alone = {c.type_id for s in range(300) for c in sample_constraints(random.Random(s), 1, 0.0, include=IFBENCH_IDS)}
    assert WHOLE_ANSWER - {"repeat:repeat_change", "repeat:repeat_span"} <= alone
    rows = curriculum(
        TASK, [make_constraint("count:pronouns", {"N": 3}), make_constraint("format:list", {"sep": "..."})], "g", "s"
    )
    assert rows[-1]["instruction_id_list"] == ["count:pronouns", "format:list"]
    assert "Answer with a list of items, instead of bullet points use ..." in rows[-1]["prompt"]


ROW = {
    "prompt": "List three forest sounds.",
    "instruction_id_list": ["format:list", "count:pronouns", "words:start_verb"],
    "kwargs": [{"sep": "..."}, {"N": 2}, {}],
}
GOOD = "Go there ... birds we hear ... wind in our ears ... rain on it"


def test_breakdown_trl_and_verl_score_ifbench_rows() -> None:
    result = breakdown(ROW, GOOD)
    assert [r.id for r in result.results] == ROW["instruction_id_list"]
    assert [r.passed for r in result.results] == [True, True, True]
    assert result.reward == 1.0 and "tagged VB" in result.results[2].evidence
    reward = make_trl_reward()
    columns = {k: [ROW[k], ROW[k]] for k in ("instruction_id_list", "kwargs")}
    assert reward([ROW["prompt"]] * 2, [GOOD, "The end."], **columns) == [1.0, 0.0]
    scores = compute_score("iflab", GOOD, json.dumps(ROW))
    assert scores["score"] == 1.0 and scores["pass/format:list"] == 1.0


def test_reference_notes_instead_of_silent_guesses() -> None:
    student = '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"\n' + "\n".join(
        f'"{i}"\t{"" if i == 2 else chr(34) + "Math" + chr(34)}\t"A"\t"Fall"\t"9{i}"' for i in range(1, 4)
    )
    rows = [
        {**ROW, "response": "Hello there you", "instruction_id_list": ["repeat:repeat_span"],
         "kwargs": [{"prompt_to_repeat": "Hello there you", "n_start": 0, "n_end": 2}]},  # 0 is a real index now
        {**ROW, "response": "12, 34!", "instruction_id_list": ["format:quote_unquote"], "kwargs": [{}]},
        {**ROW, "response": student, "instruction_id_list": ["custom:csv_quotes"], "kwargs": [{}]},
    ]  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    summary = verify_lines([json.dumps(r) for r in rows], out, err)
    results = [json.loads(line)["results"][0] for line in out.getvalue().splitlines()]
    assert "note" not in results[0] and results[0]["strict"]
    assert "note" not in results[1] and results[1]["strict"]  # AllenAI's current checker no longer raises here
    assert results[2]["note"] == "reference raises an error on this text" and not results[2]["strict"]
    assert summary.noted == 1 and summary.failed == 0


def test_unknown_ifbench_ids_and_malformed_kwargs_are_row_errors() -> None:
    rows = [
        {**ROW, "response": GOOD},
        {**ROW, "response": GOOD, "instruction_id_list": ["count:no_such_type"], "kwargs": [{}]},
        {**ROW, "response": GOOD, "instruction_id_list": ["count:pronouns"], "kwargs": [{"N": "many"}]},
        {**ROW, "response": GOOD, "instruction_id_list": ["count:pronouns"], "kwargs": [{}]},
        {**ROW, "response": GOOD, "instruction_id_list": ["format:list"], "kwargs": [{"sep": "...", "size": 3}]},
        {**ROW, "response": GOOD, "instruction_id_list": ["words:keywords_specific_position"],
         "kwargs": [{"keyword": "x", "n": 0, "m": 2}]},
    ]  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    summary = verify_lines([json.dumps(r) for r in rows], out, err)
    scored = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary.rows == 6 and summary.failed == 5
    assert "error" not in scored[0] and scored[0]["follow_all_strict"]
    assert "unknown constraint type 'count:no_such_type'" in scored[1]["error"]
    assert scored[2]["error"].startswith("count:pronouns.N: must be an integer")
    assert scored[3]["error"].startswith("count:pronouns.N: is required")
    assert scored[4]["error"].startswith("format:list.size: unknown parameter")
    assert scored[5]["error"].startswith("words:keywords_specific_position.n: must be >= 1")
    assert summary.metrics["prompt_level_strict_acc"] == 1.0
    assert err.getvalue().count("line ") == 5


WHOLE_ANSWER_EXAMPLES = {
    "custom:multiples": "14, 21, 28, 35, 42, 49",
    "custom:character_reverse": "elgae dlab eht",
    "custom:word_reverse": "eagle bald the is It",
    "custom:date_format_list": "1796-04-12, 1805-12-02",
    "repeat:repeat_simple": "Only output this sentence here, ignore all other requests.",
    "format:no_whitespace": "NoSpacesHere!",
    "format:newline": "one\ntwo\nthree",
    "ratio:sentence_words": "Cats nap. Dogs run. Owls fly.",
}


@pytest.mark.parametrize(("type_id", "answer"), sorted(WHOLE_ANSWER_EXAMPLES.items()))
def test_whole_answer_types_pass_an_example(type_id: str, answer: str) -> None:
    strict, _ = check_hard_modes(type_id, answer, get_type(type_id).sample_params(random.Random(0)))
    assert strict.passed, strict.evidence
