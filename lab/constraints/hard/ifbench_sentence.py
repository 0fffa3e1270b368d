"""IFBench sentence:* types: growing alliteration, a keyword in the Nth sentence, sentences growing by N words.
Sentences are IFBench's own rule-based split (ifbench_text.split_into_sentences), not Punkt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Verdict
from lab.constraints.hard.common import SAMPLE_WORDS, counted, verdict
from lab.constraints.hard.ifbench_common import ifbench_type, int_param, no_params, text_param
from lab.constraints.hard.ifbench_text import (
    PUNCTUATION_SPACE,
    count_whole_word,
    split_into_sentences,
    without_punctuation,
)


def alliteration_score(sentence: str) -> int:
    """IFBench's score: each run of k words sharing a first letter adds k (2 for the first pair, 1 per extra)."""
    words = [clean for word in sentence.lower().split() if (clean := word.lstrip(PUNCTUATION_SPACE))]
    score, in_run = 0, False
    for a, b in zip(words, words[1:], strict=False):
        if a[0] == b[0]:
            score += 1 if in_run else 2
            in_run = True
        else:
            in_run = False
    return score


def _check_alliteration(response: str, p: Mapping[str, Any]) -> Verdict:
    previous = -1
    scores = []
    for sentence in split_into_sentences(response):
        score = alliteration_score(sentence)
        scores.append(score)
        if score <= previous:
            return verdict(False, f"alliteration per sentence {scores}; needs to grow every sentence")
        previous = score
    return verdict(True, f"alliteration per sentence {scores[:8]}{' ...' if len(scores) > 8 else ''} grows")


ifbench_type(
    "sentence:alliteration_increment",
    "Growing alliteration",
    (),
    "Each sentence must have a longer sequence of consecutive alliterative words than the previous one.",
    _check_alliteration,
    no_params,
)


def _check_keyword_sentence(response: str, p: Mapping[str, Any]) -> Verdict:
    sentences = split_into_sentences(response)
    n = p["N"]
    if len(sentences) < n:
        return verdict(False, f"{counted(len(sentences), 'sentence')}, so no sentence {n}")
    found = count_whole_word(p["word"], sentences[n - 1], first_only=True) > 0  # whole word, case-insensitive
    return verdict(found, f"sentence {n} {'contains' if found else 'lacks'} {p['word']!r}")


ifbench_type(
    "sentence:keyword",
    "Keyword in the Nth sentence",
    (
        text_param("word", "the keyword (case-insensitive, whole words)"),
        int_param("N", "which sentence (1-based)", 1, 100_000, 1, 5),
    ),
    'The response must include keyword "{word}" in the {N}-th sentence.',
    _check_keyword_sentence,
    lambda rng: {"word": rng.choice(SAMPLE_WORDS), "N": rng.randint(1, 5)},
)


def _words_in(sentence: str) -> int:
    return len(without_punctuation(sentence).strip().split())


def _check_increment(response: str, p: Mapping[str, Any]) -> Verdict:
    counts = [_words_in(s) for s in split_into_sentences(response)]
    step = p["small_n"]
    for i in range(1, len(counts)):
        if counts[i] != counts[i - 1] + step:
            return verdict(False, f"words per sentence {counts[: i + 1]}; each must add exactly {step}")
    return verdict(True, f"words per sentence {counts[:8]}{' ...' if len(counts) > 8 else ''} grow by {step}")


ifbench_type(
    "sentence:increment",
    "Sentences grow by N words",
    (int_param("small_n", "words added per sentence", 0, 10_000, 1, 5),),
    "Each sentence must contain exactly {small_n} more words than the previous one.",
    _check_increment,
    lambda rng: {"small_n": rng.randint(1, 5)},
)
