"""IFEval length types: number of sentences, paragraphs (*** dividers), words, and nth paragraph's first word."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Param, Verdict
from lab.constraints.hard.common import (
    RELATIONS,
    SAMPLE_WORDS,
    compare,
    counted,
    hard_type,
    needs,
    relation_param,
    verdict,
)
from lab.constraints.text_stats import count_sentences, count_words
from lab.errors import LabError

_DIVIDER = re.compile(r"\s?\*\*\*\s?")
_FIRST_WORD_STOP = {".", ",", "?", "!", "'", '"'}


def _check_sentences(response: str, p: Mapping[str, Any]) -> Verdict:
    count = count_sentences(response)
    passed = compare(count, p["relation"], p["num_sentences"])
    return verdict(passed, needs(count, p["relation"], p["num_sentences"], "sentence"))


hard_type(
    "length_constraints:number_sentences",
    "Number of sentences",
    (
        Param("num_sentences", "int", help="threshold", low=1, high=100_000, sample_low=3, sample_high=5),
        relation_param(),
    ),
    (
        "Your response should contain {relation} {num_sentences} sentences.",
        "Write {relation} {num_sentences} sentences.",
        "Your answer must consist of {relation} {num_sentences} sentences.",
    ),
    _check_sentences,
    lambda rng: {"num_sentences": rng.randint(3, 5), "relation": rng.choice(RELATIONS)},
)


def _check_paragraphs(response: str, p: Mapping[str, Any]) -> Verdict:
    parts = _DIVIDER.split(response)
    count = len(parts)
    for index, part in enumerate(parts):
        if not part.strip():
            if index in (0, len(parts) - 1):
                count -= 1  # a divider at the very start or end does not open a paragraph
            else:
                return verdict(False, f"empty paragraph #{index + 1} between *** dividers")
    return verdict(count == p["num_paragraphs"], f"{counted(count, 'paragraph')}, needs exactly {p['num_paragraphs']}")


hard_type(
    "length_constraints:number_paragraphs",
    "Number of paragraphs (*** dividers)",
    (Param("num_paragraphs", "int", help="exact count", low=1, high=10_000, sample_low=2, sample_high=4),),
    (
        "There should be {num_paragraphs} paragraphs. Paragraphs are separated with the markdown divider: ***",
        "Write exactly {num_paragraphs} paragraphs, separating them with the markdown divider ***.",
        "Your answer must have {num_paragraphs} paragraphs, with *** on its own between consecutive paragraphs.",
    ),
    _check_paragraphs,
    lambda rng: {"num_paragraphs": rng.randint(2, 4)},
)


def _check_words(response: str, p: Mapping[str, Any]) -> Verdict:
    count = count_words(response)
    passed = compare(count, p["relation"], p["num_words"])
    return verdict(passed, needs(count, p["relation"], p["num_words"], "word"))


hard_type(
    "length_constraints:number_words",
    "Number of words",
    (
        Param("num_words", "int", help="threshold", low=1, high=10_000_000, sample_low=10, sample_high=300),
        relation_param(),
    ),
    (
        "Answer with {relation} {num_words} words.",
        "Your response should be {relation} {num_words} words long.",
        "Use {relation} {num_words} words in your answer.",
    ),
    _check_words,
    lambda rng: {"num_words": rng.choice([10, 20, 30, 50, 80, 100, 150, 200, 300]), "relation": rng.choice(RELATIONS)},
)


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    letters = []
    for letter in word:
        if letter in _FIRST_WORD_STOP:
            break
        letters.append(letter.lower())
    return "".join(letters)


def _check_nth_first_word(response: str, p: Mapping[str, Any]) -> Verdict:
    paragraphs = response.split("\n\n")
    count = sum(1 for paragraph in paragraphs if paragraph.strip())
    nth, wanted = p["nth_paragraph"], p["first_word"].lower()
    if nth > count:
        return verdict(
            False, f"{counted(count, 'paragraph')}, so no paragraph {nth}; needs exactly {p['num_paragraphs']}"
        )
    # IFEval indexes the raw split (empty pieces included) while counting only non-empty ones.
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return verdict(False, f"paragraph {nth} is empty")
    first = _first_word(paragraph)
    passed = count == p["num_paragraphs"] and first == wanted
    paragraphs_found = f"{counted(count, 'paragraph')} (needs {p['num_paragraphs']})"
    return verdict(passed, f"{paragraphs_found}; paragraph {nth} starts with {first!r}, needs {wanted!r}")


def _validate_nth(values: dict[str, Any]) -> None:
    if values["nth_paragraph"] > values["num_paragraphs"]:
        raise LabError(
            f"must be between 1 and num_paragraphs ({values['num_paragraphs']}), got {values['nth_paragraph']}",
            field="length_constraints:nth_paragraph_first_word.nth_paragraph",
        )


def _sample_nth(rng: random.Random) -> dict[str, Any]:
    num = rng.randint(2, 4)
    return {"num_paragraphs": num, "nth_paragraph": rng.randint(1, num), "first_word": rng.choice(SAMPLE_WORDS)}


hard_type(
    "length_constraints:nth_paragraph_first_word",
    "Paragraph count and the nth paragraph's first word",
    (
        Param("num_paragraphs", "int", help="exact count", low=1, high=10_000, sample_low=2, sample_high=4),
        Param(
            "nth_paragraph", "int", help="which paragraph (1-based)", low=1, high=10_000, sample_low=1, sample_high=4
        ),
        Param("first_word", "str", help="the word that paragraph must start with"),
    ),
    (
        "There should be {num_paragraphs} paragraphs. Paragraphs and only paragraphs are separated with each other "
        "by two new lines as if it was '\\n\\n' in python. Paragraph {nth_paragraph} must start with word "
        "{first_word}.",
        "Write exactly {num_paragraphs} paragraphs separated by blank lines; paragraph {nth_paragraph} must begin "
        "with the word '{first_word}'.",
        "Use {num_paragraphs} paragraphs (separated by one empty line each) and start paragraph {nth_paragraph} "
        "with the word {first_word}.",
    ),
    _check_nth_first_word,
    _sample_nth,
    validate_fn=_validate_nth,
)
