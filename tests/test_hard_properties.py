"""Property tests for the hard checkers: never raise on any text, reject bad params by field, stay linear on
1 MB inputs, and the fast paths equal what they replace (IFEval's regexes, NLTK, langdetect)."""

from __future__ import annotations

import random
import re
import time
from functools import cache

import nltk
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.constraints import get_type
from lab.constraints.base import Param
from lab.constraints.hard import HARD_IDS, IFBENCH_IDS
from lab.constraints.hard.content import count_placeholders
from lab.constraints.hard.formats import _count_line_items, find_title
from lab.constraints.hard.ifbench_custom import _special_quoted, split_questions
from lab.constraints.hard.ifbench_format import lines_after_blank_removal
from lab.constraints.hard.ifbench_ratio import trigram_overlap
from lab.constraints.ifeval_modes import check_hard_modes
from lab.constraints.language_id import detect_language
from lab.constraints.text_stats import (
    count_capital_words,
    count_sentences,
    leading_word_tokens,
    trailing_word_tokens,
    use_vendored_nltk_data,
    word_tokens,
)
from lab.errors import LabError

use_vendored_nltk_data()  # for the direct nltk calls below (no downloads)

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=300)  # lone surrogates included
MARKUP_TEXT = st.text(alphabet=st.sampled_from(list("[]<>*-\n \tab.PpSs:'\"")), max_size=80)
PROSE = st.lists(
    st.sampled_from(
        ["The", "cat", "DON'T", "U.S.", "Mr.", "Dr", "IT'S.", "CANNOT", "Gonna", "e.g.", "A.", "I", "(WHO)", "NASA's",
         "\"Quote\"", "'tis", "...", "--", "?", "!", ".", ",", ":", "«", "»", "“", "”", "wanna", "5.3", "p.m.",
         " ", "\n", "\n\n", "*", "``", "''", "Ça", "ÉCOLE", "ǅ", "Ⅻ", "hello,", "World!", "$", "@"]
    ),
    max_size=40,
).map("".join)  # fmt: skip
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALL_HARD = HARD_IDS + IFBENCH_IDS  # IFEval's 25 and IFBench's 58


def _value(param: Param) -> st.SearchStrategy:
    if param.kind == "int":
        return st.integers(param.low or 1, min(param.high or 10**6, 10**6))
    if param.kind == "choice":
        return st.sampled_from(param.choices)
    if param.kind == "char":
        return st.characters().filter(lambda c: not c.isspace())
    word = st.text(min_size=1, max_size=12).filter(str.strip)
    if param.kind == "str_list":
        return st.lists(word, min_size=1, max_size=3)
    return word


@st.composite
def valid_params(draw: st.DrawFn, type_id: str) -> dict:
    params = {p.name: draw(_value(p)) for p in get_type(type_id).params}
    if "nth_paragraph" in params:
        params["nth_paragraph"] = min(params["nth_paragraph"], params["num_paragraphs"])
    return params


@pytest.mark.parametrize("type_id", ALL_HARD)
@FAST
@given(response=ANY_TEXT, data=st.data())
def test_any_text_and_valid_params_never_raise(type_id: str, response: str, data: st.DataObject) -> None:
    params = data.draw(valid_params(type_id))
    strict, loose = check_hard_modes(type_id, response, params)
    assert strict.score in (0.0, 1.0) and loose.score in (0.0, 1.0)
    assert loose.passed or not strict.passed  # loose never fails what strict passes


def _bad_values(param: Param) -> list:
    if param.kind == "int":
        return [param.low - 1, "many", 2.5, True]
    if param.kind == "choice":
        return ["not-a-choice", 3]
    if param.kind == "str_list":
        return ["one string", [], [""], [3]]
    return ["", "   ", 7, ["list"]]


@pytest.mark.parametrize("type_id", ALL_HARD)
def test_invalid_params_raise_lab_error_naming_the_field(type_id: str) -> None:
    constraint = get_type(type_id)
    good = constraint.sample_params(random.Random(0))
    for param in constraint.params:
        for bad in _bad_values(param):
            with pytest.raises(LabError) as caught:
                check_hard_modes(type_id, "Some text.", {**good, param.name: bad})
            assert caught.value.field == f"{type_id}.{param.name}", (param.name, bad)
        with pytest.raises(LabError) as caught:
            check_hard_modes(type_id, "Some text.", {k: v for k, v in good.items() if k != param.name})
        assert caught.value.field == f"{type_id}.{param.name}"
    with pytest.raises(LabError) as caught:
        check_hard_modes(type_id, "Some text.", {**good, "no_such_param": 1})
    assert caught.value.field == f"{type_id}.no_such_param"


MEGABYTE = 1_000_000
BIG_INPUTS = {
    "prose": ("The QUICK brown fox, said Mr. Smith, jumps over *the* dog [x]. <<T>> P.S. ok\n" * 13_000)[:MEGABYTE],
    "brackets": "[" * MEGABYTE,
    "angles": "<<" * (MEGABYTE // 2),
    "spaces_then_star": "x" + " " * (MEGABYTE - 3) + "*y",
    "newlines_and_dashes": ("\n \n" * (MEGABYTE // 6)) + "-" + ("\n" * (MEGABYTE // 2)),
    "sentences": "A. " * (MEGABYTE // 3),
    "one_word": "a" * MEGABYTE,
}  # fmt: skip


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(BIG_INPUTS))
def test_one_megabyte_responses_are_checked(name: str) -> None:
    response = BIG_INPUTS[name]
    rng = random.Random(0)
    started = time.perf_counter()
    for type_id in ALL_HARD:
        check_hard_modes(type_id, response, get_type(type_id).sample_params(rng))
    # No timing assert (shared CI machines); pytest-timeout bounds it. Printed for the curious.
    print(f"{name}: all {len(ALL_HARD)} types strict+loose in {time.perf_counter() - started:.1f} s")


@settings(max_examples=400, deadline=None)
@given(text=MARKUP_TEXT)
def test_linear_scans_equal_ifevals_regexes(text: str) -> None:
    assert count_placeholders(text) == len(re.findall(r"\[.*?\]", text))
    assert _count_line_items(text, star=True) == len(re.findall(r"^\s*\*[^\*].*$", text, flags=re.MULTILINE))
    assert _count_line_items(text, star=False) == len(re.findall(r"^\s*-.*$", text, flags=re.MULTILINE))
    titles = re.findall(r"<<[^\n]+>>", text)
    assert (find_title(text) is not None) == any(t.lstrip("<").rstrip(">").strip() for t in titles)
    lowered = text.lower()
    assert bool(re.findall(r"\s*p\.\s?s\..*$", lowered, flags=re.MULTILINE)) == bool(
        re.search(r"p\.\s?s\..*$", lowered, flags=re.MULTILINE)
    )


@settings(max_examples=300, deadline=None)
@given(text=PROSE)
def test_counts_equal_nltk(text: str) -> None:
    assert count_sentences(text) == len(nltk.sent_tokenize(text))
    assert count_capital_words(text) == sum(1 for token in nltk.word_tokenize(text) if token.isupper())
    tokens = nltk.word_tokenize(text)
    assert list(word_tokens(text)) == tokens  # chunk by chunk, plain chunks read off directly
    for n in (1, 2, 3):
        assert leading_word_tokens(text, n) == tokens[:n]
    assert trailing_word_tokens(text, 2) == tokens[-2:]


def _blank_removal_as_written(lines: list[str]) -> list[str]:
    lines = list(lines)
    for line in lines:  # IFBench's IndentStairsChecker, removing while iterating
        if not line.strip():
            lines.remove(line)
    return lines


LINES_TEXT = st.text(alphabet=st.sampled_from(list("ab \t\n-*\"'.,!?Q0123456789()")), max_size=60)


@settings(max_examples=400, deadline=None)
@given(text=LINES_TEXT, reference=st.text(max_size=40))
def test_ifbench_linear_rewrites_equal_the_reference_code(text: str, reference: str) -> None:
    lines = text.replace("a", "").split("\n")
    assert lines_after_blank_removal(lines) == _blank_removal_as_written(lines)
    questions = text.replace("Q", "Question 1").replace("b", "\n")
    assert split_questions(questions) == re.split(r"\n*(?:Question \d+[\.|\):;]?\s*)", questions)
    for field in (text, '"' + text):
        assert _special_quoted(field) == bool(re.match(r'".*[^\d\w\s].*"', field))
    for sample in (text, (text + reference) * 8):
        grams = set(nltk.ngrams(nltk.word_tokenize(sample), 3))
        shared = len(grams & set(nltk.ngrams(nltk.word_tokenize(reference), 3)))
        assert trigram_overlap(sample, reference) == (shared, len(grams))


@cache
def _seeded_langdetect():  # the original pure-Python langdetect, on its own factory with seed 0
    import langdetect
    from langdetect import detector_factory

    factory = langdetect.DetectorFactory()
    factory.load_profile(detector_factory.PROFILES_DIRECTORY)
    factory.seed = 0
    return factory, langdetect.LangDetectException


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(PROSE, st.text(max_size=120)))
def test_language_detection_equals_seeded_langdetect(text: str) -> None:
    factory, failure = _seeded_langdetect()
    detector = factory.create()
    detector.append(text)
    try:
        expected = detector.detect()
    except failure:
        expected = None
    assert detect_language(text) == expected
