"""The 25 IFEval hard types: registry shape, parameter schemas, example verdicts, loose mode and metrics."""

from __future__ import annotations

import random

import nltk
import pytest

from lab.constraints import all_types, get_type
from lab.constraints.hard import CONFLICTS, HARD_IDS
from lab.constraints.ifeval_modes import check_hard, check_hard_modes, ifeval_metrics, loose_variants
from lab.constraints.language_id import detect_language
from lab.constraints.text_stats import NLTK_DATA, count_sentences, count_words
from lab.errors import LabError

# kwargs names per id, as in IFEval's instructions.py build_description signatures.
IFEVAL_KWARGS = {
    "keywords:existence": {"keywords"},
    "keywords:frequency": {"keyword", "frequency", "relation"},
    "keywords:forbidden_words": {"forbidden_words"},
    "keywords:letter_frequency": {"letter", "let_frequency", "let_relation"},
    "language:response_language": {"language"},
    "length_constraints:number_sentences": {"num_sentences", "relation"},
    "length_constraints:number_paragraphs": {"num_paragraphs"},
    "length_constraints:number_words": {"num_words", "relation"},
    "length_constraints:nth_paragraph_first_word": {"num_paragraphs", "nth_paragraph", "first_word"},
    "detectable_content:number_placeholders": {"num_placeholders"},
    "detectable_content:postscript": {"postscript_marker"},
    "detectable_format:number_bullet_lists": {"num_bullets"},
    "detectable_format:constrained_response": set(),
    "detectable_format:number_highlighted_sections": {"num_highlights"},
    "detectable_format:multiple_sections": {"section_spliter", "num_sections"},
    "detectable_format:json_format": set(),
    "detectable_format:title": set(),
    "combination:two_responses": set(),
    "combination:repeat_prompt": {"prompt_to_repeat"},
    "startend:end_checker": {"end_phrase"},
    "change_case:capital_word_frequency": {"capital_frequency", "capital_relation"},
    "change_case:english_capital": set(),
    "change_case:english_lowercase": set(),
    "punctuation:no_comma": set(),
    "startend:quotation": set(),
}


def test_all_25_ifeval_ids_with_their_kwargs_names() -> None:
    hard = {t.id: t for t in all_types("hard", family="ifeval")}
    assert set(hard) == set(IFEVAL_KWARGS) == set(HARD_IDS)
    for type_id, names in IFEVAL_KWARGS.items():
        assert {p.name for p in hard[type_id].params} == names, type_id


@pytest.mark.parametrize("type_id", HARD_IDS)
def test_each_type_samples_describes_and_checks(type_id: str) -> None:
    constraint = get_type(type_id)
    assert len(constraint.phrasings) >= 3
    assert constraint.group == type_id.split(":")[0]
    rng = random.Random(7)
    for _ in range(20):
        params = constraint.sample_params(rng)
        texts = {constraint.describe(params, variant=v) for v in range(len(constraint.phrasings))}
        assert len(texts) == len(constraint.phrasings) and all("{" not in t for t in texts)
        verdict = constraint.check("Some answer, with words.", params)
        assert verdict.score == (1.0 if verdict.passed else 0.0) and verdict.evidence


def test_sampled_params_use_the_papers_ranges() -> None:
    rng = random.Random(0)
    ranges = {
        ("detectable_format:number_bullet_lists", "num_bullets"): (2, 4),
        ("length_constraints:number_paragraphs", "num_paragraphs"): (2, 4),
        ("length_constraints:number_sentences", "num_sentences"): (3, 5),
        ("length_constraints:number_words", "num_words"): (10, 300),
    }
    for (type_id, name), (low, high) in ranges.items():
        constraint = get_type(type_id)
        param = next(p for p in constraint.params if p.name == name)
        assert (param.sample_low, param.sample_high) == (low, high)
        values = [constraint.sample_params(rng)[name] for _ in range(200)]
        assert low <= min(values) and max(values) <= high and len(set(values)) > 2
    relations = {get_type("length_constraints:number_words").sample_params(rng)["relation"] for _ in range(50)}
    assert relations == {"less than", "at least"}


def test_conflicts_are_ifevals_table_made_symmetric() -> None:
    for type_id, others in CONFLICTS.items():
        assert type_id in others
        for other in others:
            assert type_id in CONFLICTS[other]
        assert get_type(type_id).conflicts == others
    assert "change_case:english_capital" in CONFLICTS["change_case:english_lowercase"]
    assert "detectable_format:title" in CONFLICTS["startend:quotation"]
    assert CONFLICTS["detectable_format:constrained_response"] == frozenset(HARD_IDS)
    json_ok = set(HARD_IDS) - CONFLICTS["detectable_format:json_format"]
    assert json_ok == {"keywords:forbidden_words", "keywords:existence"}
    assert "punctuation:no_comma" not in CONFLICTS["keywords:existence"]


@pytest.mark.parametrize(
    ("type_id", "params", "response", "passed", "evidence"),
    [
        ("length_constraints:number_words", {"num_words": 3, "relation": "less than"}, "one two three", False,
         "3 words, needs < 3"),
        ("length_constraints:number_words", {"num_words": 3, "relation": "at least"}, "one two three", True,
         "3 words, needs >= 3"),
        ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"},
         "Mr. Smith came. He sat. It rained.", True, "3 sentences, needs >= 3"),
        ("keywords:existence", {"keywords": ["river", "Ocean"]}, "The RIVER flows.", False, "missing 'Ocean'"),
        ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "at least"}, "Cat and cat.", True,
         "2 × 'cat', needs >= 2"),
        ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "concatenate", True, None),
        ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "a Cat!", False, "uses forbidden 'cat'"),
        ("keywords:letter_frequency", {"letter": "Z", "let_frequency": 2, "let_relation": "less than"}, "zz", False,
         "2 × letter 'z', needs < 2"),
        ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a\n***\nb", True, None),
        ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a\n***\n***\nb", False, None),
        ("length_constraints:nth_paragraph_first_word",
         {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Then"}, "First.\n\n\"Then, more.", True, None),
        ("detectable_content:number_placeholders", {"num_placeholders": 2}, "[a] [b", False,
         "1 [placeholder], needs >= 2"),
        ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Body.\np. s. later", True, None),
        ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Body.\nP.S. later", False, None),
        ("detectable_format:number_bullet_lists", {"num_bullets": 3}, "* a\n- b\n  * c\n**bold**", True, None),
        ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*a* **b** * *", True,
         "2 *highlighted* sections, needs >= 2"),
        ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
         "SECTION 1\nx\nSECTION 2\ny", True, None),
        ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', True, "valid JSON"),
        ("detectable_format:json_format", {}, "{'a': 1}", False, None),
        ("detectable_format:title", {}, "<< >>\n<<Joy>>", True, "title <<Joy>>"),
        ("detectable_format:constrained_response", {}, "Well. My answer is maybe.", True, None),
        ("combination:two_responses", {}, "A\n******\nB", True, None),
        ("combination:two_responses", {}, "A\n******\nA ", False, "the two responses are identical"),
        ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a POEM. Roses...", True, None),
        ("startend:end_checker", {"end_phrase": "Any other questions?"}, '"Done. Any other questions?"', True, None),
        ("startend:quotation", {}, '  "quoted"  ', True, None),
        ("startend:quotation", {}, '"', False, None),
        ("punctuation:no_comma", {}, "a, b, c", False, "2 commas, needs 0"),
        ("change_case:english_lowercase", {}, "this is a plain english sentence about the weather.", True, None),
        ("change_case:english_capital", {}, "THIS IS A PLAIN ENGLISH SENTENCE ABOUT THE WEATHER.", True, None),
        ("change_case:english_capital", {}, "THIS is mixed", False, "not all capital letters"),
        ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
         "DON'T stop", True, "2 all-capital words, needs >= 2"),
        ("language:response_language", {"language": "fr"}, "Bonjour, je suis très content de vous voir.", True,
         None),
        ("language:response_language", {"language": "de"}, "This is clearly written in English.", False,
         "detected English (en), needs de"),
    ],
)  # fmt: skip
def test_examples(type_id: str, params: dict, response: str, passed: bool, evidence: str | None) -> None:
    verdict = check_hard(type_id, response, params)
    assert verdict.passed is passed, verdict.evidence
    if evidence is not None:
        assert verdict.evidence == evidence


def test_empty_response_never_passes_like_ifeval() -> None:
    for type_id in ("keywords:forbidden_words", "punctuation:no_comma", "language:response_language"):
        params = get_type(type_id).sample_params(random.Random(1))
        for response in ("", "  \n "):
            strict, loose = check_hard_modes(type_id, response, params)
            assert not strict.passed and not loose.passed and strict.evidence == "empty response"


def test_loose_variants_in_ifeval_order() -> None:
    variants = loose_variants("Sure:\n*a*\nbye")
    assert variants == ["Sure:\n*a*\nbye", "Sure:\na\nbye", "*a*\nbye", "Sure:\n*a*", "*a*", "a\nbye", "Sure:\na", "a"]


def test_loose_mode_forgives_a_preamble_and_markdown() -> None:
    response = 'Here you go:\n"All wrapped up."'
    assert not check_hard("startend:quotation", response, None).passed
    loose = check_hard("startend:quotation", response, None, loose=True)
    assert loose.passed and "loose: without first line" in loose.evidence
    strict, loose = check_hard_modes(
        "startend:end_checker", "Done. **Any other questions?**", {"end_phrase": "Any other questions?"}
    )
    assert (strict.passed, loose.passed) == (False, True)


def test_invalid_params_raise_naming_the_field() -> None:
    cases = [
        ("length_constraints:number_words", {"num_words": 0, "relation": "at least"}, "num_words"),
        ("length_constraints:number_words", {"num_words": 5, "relation": "at most"}, "relation"),
        ("keywords:existence", {"keywords": "river"}, "keywords"),
        ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 2, "let_relation": "at least"}, "letter"),
        ("language:response_language", {"language": "xx"}, "language"),
        ("length_constraints:nth_paragraph_first_word",
         {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "so"}, "nth_paragraph"),
        ("detectable_format:title", {"bogus": 1}, "bogus"),
        ("combination:repeat_prompt", {}, "prompt_to_repeat"),
    ]  # fmt: skip
    for type_id, params, name in cases:
        with pytest.raises(LabError) as caught:
            check_hard(type_id, "text", params)
        assert caught.value.field == f"{type_id}.{name}"
    with pytest.raises(LabError) as caught:
        check_hard("keywords:nope", "text", {})
    assert caught.value.field == "instruction_id"


def test_ifeval_metrics() -> None:
    metrics = ifeval_metrics([[True, True], [True, False], [False]], [[True, True], [True, True], [False]])
    assert metrics == {
        "prompt_level_strict_acc": pytest.approx(1 / 3),
        "inst_level_strict_acc": pytest.approx(3 / 5),
        "prompt_level_loose_acc": pytest.approx(2 / 3),
        "inst_level_loose_acc": pytest.approx(4 / 5),
    }
    assert ifeval_metrics([], [])["inst_level_loose_acc"] == 0.0
    with pytest.raises(LabError):
        ifeval_metrics([[True]], [])


def test_offline_nltk_data_is_the_vendored_copy() -> None:
    assert count_sentences("Dr. Who arrived at 5 p.m. today. He left!") == 2  # loads Punkt on first use
    assert nltk.data.find("tokenizers/punkt_tab/english/").path.startswith(str(NLTK_DATA))
    assert count_words("Hello, wörld — it's 3 p.m.") == 7


def test_language_detection_is_deterministic() -> None:
    text = "Ceci est une phrase en français, écrite pour le test."
    detect_language.cache_clear()
    first = detect_language(text)
    detect_language.cache_clear()
    assert first == detect_language(text) == "fr"
    assert detect_language("12345 !!!") is None
