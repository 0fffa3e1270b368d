"""IFEval keyword types: existence, frequency, forbidden words, letter frequency."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Param, Verdict
from lab.constraints.hard.common import (
    RELATIONS,
    SAMPLE_WORDS,
    compare,
    hard_type,
    needs,
    pattern,
    quote_list,
    relation_param,
    verdict,
)


def _check_existence(response: str, p: Mapping[str, Any]) -> Verdict:
    missing = [k for k in sorted(p["keywords"]) if not pattern(k).search(response)]
    if missing:
        return verdict(False, f"missing {quote_list(missing)}")
    return verdict(True, f"all {len(p['keywords'])} keywords present")


hard_type(
    "keywords:existence",
    "Include keywords",
    (Param("keywords", "str_list", help="words that must all appear (case-insensitive)"),),
    (
        "Include keywords {keywords} in the response.",
        "Make sure your answer mentions the following words: {keywords}.",
        "Your response must contain each of these keywords: {keywords}.",
    ),
    _check_existence,
    lambda rng: {"keywords": rng.sample(SAMPLE_WORDS, k=rng.randint(1, 3))},
    format_fn=lambda p: {"keywords": ", ".join(p["keywords"])},
)


def _check_frequency(response: str, p: Mapping[str, Any]) -> Verdict:
    keyword = p["keyword"].strip()
    count = len(pattern(keyword).findall(response))
    passed = compare(count, p["relation"], p["frequency"])
    return verdict(passed, needs(count, p["relation"], p["frequency"], f"× {keyword!r}"))


hard_type(
    "keywords:frequency",
    "Keyword frequency",
    (
        Param("keyword", "str", help="the word to count (case-insensitive)"),
        Param("frequency", "int", help="threshold", low=1, high=10_000, sample_low=1, sample_high=4),
        relation_param(),
    ),
    (
        "In your response, the word {keyword} should appear {relation} {frequency} times.",
        "Use the word '{keyword}' {relation} {frequency} times in your answer.",
        "The word {keyword} must occur {relation} {frequency} times in the response.",
    ),
    _check_frequency,
    lambda rng: {
        "keyword": rng.choice(SAMPLE_WORDS),
        "frequency": rng.randint(1, 4),
        "relation": rng.choice(RELATIONS),
    },
)


def _check_forbidden(response: str, p: Mapping[str, Any]) -> Verdict:
    found = [w for w in sorted(set(p["forbidden_words"])) if pattern(w, r"\b", r"\b").search(response)]
    if found:
        return verdict(False, f"uses forbidden {quote_list(found)}")
    return verdict(True, f"none of {len(set(p['forbidden_words']))} forbidden words used")


hard_type(
    "keywords:forbidden_words",
    "Forbidden words",
    (Param("forbidden_words", "str_list", help="words that must not appear as whole words (case-insensitive)"),),
    (
        "Do not include keywords {forbidden_words} in the response.",
        "Avoid using the following words anywhere in your answer: {forbidden_words}.",
        "Your response must not contain any of these words: {forbidden_words}.",
    ),
    _check_forbidden,
    lambda rng: {"forbidden_words": rng.sample(SAMPLE_WORDS, k=rng.randint(1, 3))},
    format_fn=lambda p: {"forbidden_words": ", ".join(p["forbidden_words"])},
)


RANDOM_LETTER_NOTE = "reference draws a random letter here"


def letter_is_random_in_reference(letter: Any) -> bool:
    """True where IFEval's checker ignores `letter` and draws a random one (anything that does not lower-case to
    one of a-z); we count that character literally instead, so such verdicts can't be compared with the reference."""
    if not isinstance(letter, str) or len(letter) != 1:
        return True
    lowered = letter.lower()
    return not (len(lowered) == 1 and "a" <= lowered <= "z")


def _check_letter(response: str, p: Mapping[str, Any]) -> Verdict:
    letter = p["letter"].lower()
    count = response.lower().count(letter)  # IFEval: collections.Counter(value.lower())[letter]
    passed = compare(count, p["let_relation"], p["let_frequency"])
    return verdict(passed, needs(count, p["let_relation"], p["let_frequency"], f"× letter {letter!r}"))


hard_type(
    "keywords:letter_frequency",
    "Letter frequency",
    (
        Param(
            "letter",
            "char",
            help="an English letter (case-insensitive); any other single character is counted as written",
        ),
        Param("let_frequency", "int", help="threshold", low=1, high=1_000_000, sample_low=2, sample_high=12),
        relation_param("let_relation"),
    ),
    (
        "In your response, the letter {letter} should appear {let_relation} {let_frequency} times.",
        "Make sure the letter '{letter}' is used {let_relation} {let_frequency} times in your answer.",
        "Your answer must contain the letter {letter} {let_relation} {let_frequency} times.",
    ),
    _check_letter,
    lambda rng: {
        "letter": rng.choice(string.ascii_lowercase),
        "let_frequency": rng.randint(2, 12),
        "let_relation": rng.choice(RELATIONS),
    },
)
