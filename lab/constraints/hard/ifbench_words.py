"""IFBench words:* types: word games (alphabet chain, vowels, consonant clusters, palindromes, prime lengths,
syllable parity, first letters), repeats, a leading verb, and keywords at given positions."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from lab.constraints.base import Verdict
from lab.constraints.hard.common import SAMPLE_WORDS, verdict
from lab.constraints.hard.ifbench_common import ifbench_type, int_param, no_params, text_param
from lab.constraints.hard.ifbench_tagger import first_tag
from lab.constraints.hard.ifbench_text import (
    PUNCTUATION_SPACE,
    alnum_word_tokens,
    bare_lower_words_of,
    bare_words_of,
    lower_bare_words_of,
    lower_words_of,
    split_into_sentences,
)
from lab.constraints.text_stats import leading_word_tokens, trailing_word_tokens

ALPHABET = string.ascii_lowercase
_CONSONANTS = frozenset("bcdfghjklmnpqrstvwxyz")
_PRIMES = frozenset((2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97))


def _check_alphabet(response: str, p: Mapping[str, Any]) -> Verdict:
    words = bare_words_of(response)
    if not words:
        return verdict(False, "no words")
    letter = words[0][0].lower()
    if letter not in ALPHABET:
        return verdict(False, f"first word {words[0][:20]!r} does not start with a letter a-z")
    for number, word in enumerate(words[1:], start=2):
        word = word.strip(PUNCTUATION_SPACE).lower()
        if not word:
            continue
        letter = ALPHABET[(ALPHABET.index(letter) + 1) % 26]
        if word[0] != letter:
            return verdict(False, f"word {number} {word[:20]!r} should start with {letter!r}")
    return verdict(True, f"{len(words)} words follow the alphabet")


ifbench_type(
    "words:alphabet",
    "Words follow the alphabet",
    (),
    "Each word must start with the next letter of the alphabet, looping back to 'A' after 'Z'.",
    _check_alphabet,
    no_params,
)


def _check_vowels(response: str, p: Mapping[str, Any]) -> Verdict:
    lines = response.strip().split("\n")
    if len(lines) != 1:
        return verdict(False, f"{len(lines)} lines, needs one paragraph")
    used = sorted(set(lines[0].lower()) & set("aeiou"))
    return verdict(len(used) <= 3, f"vowels used: {''.join(used) or 'none'}; needs at most 3 kinds")


ifbench_type(
    "words:vowel",
    "Only three kinds of vowels",
    (),
    "Write a paragraph using words that contain only three types of vowels.",
    _check_vowels,
    no_params,
)


def _has_cluster(word: str) -> bool:
    return any(a in _CONSONANTS and b in _CONSONANTS for a, b in zip(word, word[1:], strict=False))


def _check_clusters(response: str, p: Mapping[str, Any]) -> Verdict:
    for word in lower_words_of(response):
        if not _has_cluster(word):
            return verdict(False, f"{word[:20]!r} has no consonant cluster")
    return verdict(True, "every word has a consonant cluster")


ifbench_type(
    "words:consonants",
    "Consonant cluster in every word",
    (),
    "Ensure each word in your response has at least one consonant cluster (two or more consonants together).",
    _check_clusters,
    no_params,
)


def _check_palindromes(response: str, p: Mapping[str, Any]) -> Verdict:
    found = [w for w in lower_bare_words_of(response) if len(w) >= 5 and w == w[::-1]]
    return verdict(len(found) >= 10, f"{len(found)} palindromes of 5+ letters, needs >= 10")


ifbench_type(
    "words:palindrome",
    "Ten palindromes",
    (),
    "Include at least 10 single-word palindromes, each at least 5 characters long.",
    _check_palindromes,
    no_params,
)


def _check_primes(response: str, p: Mapping[str, Any]) -> Verdict:
    for word in bare_words_of(response):
        if len(word) not in _PRIMES:
            return verdict(False, f"{word[:20]!r} has {len(word)} characters, not a prime")
    return verdict(True, "every word has a prime length")


ifbench_type(
    "words:prime_lengths",
    "Prime word lengths",
    (),
    "Use only words with lengths that are prime numbers.",
    _check_primes,
    no_params,
)


def _check_start_verb(response: str, p: Mapping[str, Any]) -> Verdict:
    tagged = first_tag(response)
    if tagged is None:
        return verdict(False, "no words")
    word, tag = tagged
    return verdict("VB" in tag, f"starts with {word[:20]!r}, tagged {tag} (NLTK); needs a VB* tag")


ifbench_type(
    "words:start_verb",
    "Start with a verb",
    (),
    "The response must start with a verb.",
    _check_start_verb,
    no_params,
)


def _check_repeats(response: str, p: Mapping[str, Any]) -> Verdict:
    counts = Counter(bare_lower_words_of(response))
    word, most = counts.most_common(1)[0] if counts else ("", 0)
    return verdict(most <= p["small_n"], f"most repeated: {word[:20]!r} {most}×, needs <= {p['small_n']}×")


ifbench_type(
    "words:repeats",
    "Limited word repeats",
    (int_param("small_n", "most times any word may appear", 0, 1_000_000, 2, 5),),
    "The response should not repeat any word more than {small_n} times.",
    _check_repeats,
    lambda rng: {"small_n": rng.randint(2, 5)},
)


@lru_cache(maxsize=65536)
def syllable_parity(word: str) -> int:
    import syllapy  # its word list loads on first use

    return syllapy.count(word) % 2


def _check_syllables(response: str, p: Mapping[str, Any]) -> Verdict:
    words = lower_bare_words_of(response)  # (str.split() words are never blank)
    previous = -1
    for i, word in enumerate(words):  # syllables counted only up to the first pair that does not alternate
        parity = syllable_parity(word)
        if parity == previous:
            kind = "odd" if parity else "even"
            return verdict(False, f"{words[i - 1][:20]!r} and {word[:20]!r} both have an {kind} syllable count")
        previous = parity
    return verdict(True, f"{len(words)} words alternate odd/even syllables")


ifbench_type(
    "words:odd_even_syllables",
    "Alternate odd and even syllables",
    (),
    "Alternate between words with odd and even numbers of syllables.",
    _check_syllables,
    no_params,
)


def _check_last_first(response: str, p: Mapping[str, Any]) -> Verdict:
    sentences = split_into_sentences(response)
    for i in range(len(sentences) - 1):
        current = sentences[i].rstrip(PUNCTUATION_SPACE).split()
        following = sentences[i + 1].lstrip(PUNCTUATION_SPACE).split()
        if not current or not following:
            return verdict(False, f"sentence {i + 1 if not current else i + 2} has no words")
        if current[-1].lower() != following[0].lower():
            return verdict(
                False, f"sentence {i + 1} ends {current[-1][:20]!r}, sentence {i + 2} starts {following[0][:20]!r}"
            )
    return verdict(True, f"{len(sentences)} sentences chained last word to first")


ifbench_type(
    "words:last_first",
    "Last word starts the next sentence",
    (),
    "The last word of each sentence must become the first word of the next sentence.",
    _check_last_first,
    no_params,
)


def _check_paragraph_ends(response: str, p: Mapping[str, Any]) -> Verdict:
    for number, paragraph in enumerate(response.split("\n"), start=1):
        words = paragraph.strip().lower().strip(PUNCTUATION_SPACE).split()
        if words and words[0] != words[-1]:
            return verdict(False, f"line {number} starts {words[0][:20]!r} but ends {words[-1][:20]!r}")
    return verdict(True, "every paragraph ends with its first word")


ifbench_type(
    "words:paragraph_last_first",
    "Paragraphs end with their first word",
    (),
    "Each paragraph must end with the same word it started with, separate paragraphs with a newline.",
    _check_paragraph_ends,
    no_params,
)


def _check_first_letters(response: str, p: Mapping[str, Any]) -> Verdict:
    words = bare_lower_words_of(response)
    for i in range(len(words) - 1):
        if words[i][0] == words[i + 1][0]:
            return verdict(False, f"{words[i][:20]!r} and {words[i + 1][:20]!r} share a first letter")
    return verdict(True, "no two neighbouring words share a first letter")


ifbench_type(
    "words:no_consecutive",
    "No repeated first letters",
    (),
    "No two consecutive words can share the same first letter.",
    _check_first_letters,
    no_params,
)


def _check_position(response: str, p: Mapping[str, Any]) -> Verdict:
    keyword, n, m = p["keyword"].strip(), p["n"], p["m"]
    sentences = split_into_sentences(response)
    if len(sentences) < n:
        return verdict(False, f"{len(sentences)} sentences, so no sentence {n}")
    words = alnum_word_tokens(sentences[n - 1])  # NLTK tokens with a letter or digit: punctuation is not a word
    if len(words) < m:
        return verdict(False, f"sentence {n} has {len(words)} words, so no word {m}")
    word = words[m - 1]
    return verdict(word.lower() == keyword.lower(), f"word {m} of sentence {n} is {word[:20]!r}, needs {keyword!r}")


ifbench_type(
    "words:keywords_specific_position",
    "Keyword at a sentence and word position",
    (
        text_param("keyword", "the word (case-insensitive, one NLTK token)"),
        int_param("n", "which sentence (1-based)", 1, 100_000, 1, 5),
        int_param("m", "which word of that sentence (1-based)", 1, 100_000, 1, 10),
    ),
    "Include keyword {keyword} in the {n}-th sentence, as the {m}-th word of that sentence.",
    _check_position,
    lambda rng: {"keyword": rng.choice(SAMPLE_WORDS), "n": rng.randint(1, 5), "m": rng.randint(1, 10)},
    format_fn=lambda p: {**p, "keyword": p["keyword"].strip()},
)


def _check_words_position(response: str, p: Mapping[str, Any]) -> Verdict:
    keyword = p["keyword"].strip().lower()
    # Words are NLTK tokens with a letter or digit. The second one decides most cases without splitting the rest.
    head = _edge_words(response, leading_word_tokens, 2)
    if len(head) < 2:
        return verdict(False, "fewer than 2 words")
    if head[1].lower() != keyword:
        return verdict(False, f"2nd word is {head[1][:20]!r}, needs {keyword!r}")
    tail = _edge_words(response, trailing_word_tokens, 2)
    evidence = f"2nd word {head[1][:20]!r}, 2nd-to-last {tail[-2][:20]!r}; both must be {keyword!r}"
    return verdict(tail[-2].lower() == keyword, evidence)


def _edge_words(text: str, tokens_at_edge: Any, count: int) -> list[str]:
    """The first (or, with trailing_word_tokens, last) `count` NLTK tokens that have a letter or digit, reading
    only as many tokens from that end as needed; fewer if the text has fewer."""
    wanted = count
    while True:
        tokens = tokens_at_edge(text, wanted)
        words = [token for token in tokens if any(map(str.isalnum, token))]
        if len(words) >= count or len(tokens) < wanted:
            return words[:count] if tokens_at_edge is leading_word_tokens else words[-count:]
        wanted *= 4


ifbench_type(
    "words:words_position",
    "Keyword second and second to last",
    (text_param("keyword", "the word (case-insensitive, one NLTK token)"),),
    "The second word in your response and the second to last word in your response should be the word {keyword}.",
    _check_words_position,
    lambda rng: {"keyword": rng.choice(SAMPLE_WORDS)},
    format_fn=lambda p: {"keyword": p["keyword"].strip()},
)
