"""IFBench count:* types: word ranges, unique words, conjunctions, names, numbers, punctuation, Japanese words,
pronouns and keyword multiples (ids, kwargs and semantics of AllenAI's current IFBench checkers: whole-word name and
keyword matches, the longer pronoun list)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Verdict
from lab.constraints.hard.common import SAMPLE_WORDS, counted, quote_list, verdict
from lab.constraints.hard.ifbench_common import ifbench_type, int_param, no_params, text_param
from lab.constraints.hard.ifbench_text import (
    PUNCTUATION_SPACE,
    count_whole_word,
    lower_words_of,
    pronoun_count_bounds,
    pronoun_tokens,
    without_punctuation,
    word_runs,
    words_of,
)
from lab.constraints.text_stats import count_words

_DIGITS = re.compile(r"\d+")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
CONJUNCTIONS = frozenset({"and", "but", "for", "nor", "or", "so", "yet"})
PERSON_NAMES = (
    "Emma Liam Sophia Jackson Olivia Noah Ava Lucas Isabella Mason Mia Ethan Charlotte Alexander Amelia Benjamin "
    "Harper Leo Zoe Daniel Chloe Samuel Lily Matthew Grace Owen Abigail Gabriel Ella Jacob Scarlett Nathan Victoria "
    "Elijah Layla Nicholas Audrey David Hannah Christopher Penelope Thomas Nora Andrew Aria Joseph Claire Ryan Stella "
    "Jonathan"
).split()
# AllenAI's current list: personal, possessive, reflexive, demonstrative, interrogative, relative, indefinite.
PRONOUNS = frozenset(
    "i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves this that these those who whom whose which what "
    "whoever whomever whatever whichever anybody anyone anything everybody everyone everything nobody nothing "
    "somebody someone something each either neither both all some any none".split()
)
KEYWORD_TIMES = (1, 2, 3, 5, 7)


def _check_word_range(response: str, p: Mapping[str, Any]) -> Verdict:
    count = count_words(response)
    return verdict(
        p["min_words"] <= count <= p["max_words"], f"{counted(count, 'word')}, needs {p['min_words']}-{p['max_words']}"
    )


def _sample_word_range(rng: Any) -> dict[str, Any]:
    low = rng.randint(50, 300)
    return {"min_words": low, "max_words": low + rng.randint(int(low * 0.05), int(low * 0.1))}


ifbench_type(
    "count:word_count_range",
    "Word count in a range",
    (
        int_param("min_words", "fewest words (\\w+ runs)", 0, 10_000_000, 50, 300),
        int_param("max_words", "most words", 0, 10_000_000, 55, 330),
    ),
    "The response must contain between {min_words} and {max_words} words.",
    _check_word_range,
    _sample_word_range,
)


def _check_unique(response: str, p: Mapping[str, Any]) -> Verdict:
    # IFBench strips punctuation from each whitespace word; a word of punctuation only counts as the word ''.
    unique = {word.strip(PUNCTUATION_SPACE) for word in lower_words_of(response)}
    return verdict(len(unique) >= p["N"], f"{counted(len(unique), 'unique word')}, needs >= {p['N']}")


ifbench_type(
    "count:unique_word_count",
    "Unique words",
    (int_param("N", "fewest distinct words", 0, 10_000_000, 30, 150),),
    "Use at least {N} unique words in the response.",
    _check_unique,
    lambda rng: {"N": rng.randint(30, 150)},
)


def _check_conjunctions(response: str, p: Mapping[str, Any]) -> Verdict:
    # Distinct as written: IFBench collects the raw words, so "and" and "And," are two.
    found = {word for word in words_of(response) if word.strip(PUNCTUATION_SPACE).lower() in CONJUNCTIONS}
    shown = sorted({w.strip(PUNCTUATION_SPACE).lower() for w in found})
    return verdict(
        len(found) >= p["small_n"],
        f"{len(found)} distinct conjunction forms ({', '.join(shown) or 'none'}), needs >= {p['small_n']}",
    )


ifbench_type(
    "count:conjunctions",
    "Coordinating conjunctions",
    (int_param("small_n", "fewest different conjunctions", 0, 1000, 2, 6),),
    "Use at least {small_n} different coordinating conjunctions in the response.",
    _check_conjunctions,
    lambda rng: {"small_n": rng.randint(2, 6)},
)


def _check_names(response: str, p: Mapping[str, Any]) -> Verdict:
    runs = word_runs(response)  # r"\bName\b" (case-sensitive) matches exactly when Name is a whole \w+ run
    found = [name for name in PERSON_NAMES if name in runs]
    shown = quote_list(found[:5]) + (" ..." if len(found) > 5 else "")
    return verdict(len(found) >= p["N"], f"{counted(len(found), 'listed name')} ({shown or 'none'}), needs >= {p['N']}")


ifbench_type(
    "count:person_names",
    "Person names from a list",
    (int_param("N", "fewest different names from IFBench's list of 50 (whole words, case-sensitive)", 0, 1000, 1, 5),),
    "Mention at least {N} different person names in the response, from this list of person names: "
    + ", ".join(PERSON_NAMES)
    + " .",
    _check_names,
    lambda rng: {"N": rng.randint(1, 5)},
)


def _check_numbers(response: str, p: Mapping[str, Any]) -> Verdict:
    count = len(_DIGITS.findall(without_punctuation(response)))  # "3.5" and "1,000" count once
    return verdict(count == p["N"], f"{counted(count, 'number')}, needs exactly {p['N']}")


ifbench_type(
    "count:numbers",
    "Exact count of numbers",
    (int_param("N", "exact count of digit runs (punctuation removed first)", 0, 1_000_000, 1, 6),),
    "Include exactly {N} numbers in the response.",
    _check_numbers,
    lambda rng: {"N": rng.randint(1, 6)},
)

_MARKS = (".", ",", "!", "?", ";", ":")


def _check_punctuation(response: str, p: Mapping[str, Any]) -> Verdict:
    if not ("!?" in response or "?!" in response or "‽" in response):
        return verdict(False, "no interrobang (?! or !?)")
    rest = response.replace("?!", "", 1)  # one interrobang does not count as its own ! and ?
    if len(rest) == len(response):
        rest = response.replace("!?", "", 1)
    missing = [mark for mark in _MARKS if mark not in rest]
    if missing:
        return verdict(False, "interrobang present; missing " + " ".join(missing))
    return verdict(True, "interrobang and . , ! ? ; : all present")


ifbench_type(
    "count:punctuation",
    "Every punctuation mark",
    (),
    "Use every standard punctuation mark at least once, including semicolons, colons, and the interrobang (?!).",
    _check_punctuation,
    no_params,
)


def _check_japanese(response: str, p: Mapping[str, Any]) -> Verdict:
    n = p["N"]
    for index, word in enumerate(words_of(response)):
        if (index + 1) % n == 0:
            word = word.strip(PUNCTUATION_SPACE)
            if word and not word.isdigit() and not _JAPANESE.search(word):
                return verdict(False, f"word {index + 1} {word[:20]!r} is not Japanese")
    return verdict(True, f"every {n}th word is Japanese (or a number)")


_ORDINAL = {1: "st", 2: "nd", 3: "rd"}
ifbench_type(
    "count:words_japanese",
    "Every Nth word in Japanese",
    (int_param("N", "period: words N, 2N, ... must be Japanese", 1, 100_000, 2, 10),),
    # IFBench's text drops "word" after 1st/2nd/3rd ("Every 3rd of your response ..."); kept as it is.
    "Every {N}{suffix} of your response must be in Japanese.",
    _check_japanese,
    lambda rng: {"N": rng.randint(2, 10)},
    format_fn=lambda p: {"N": p["N"], "suffix": _ORDINAL.get(p["N"] % 10, "th word")},
)


def _check_pronouns(response: str, p: Mapping[str, Any]) -> Verdict:
    low, high = pronoun_count_bounds(response, PRONOUNS)  # decides most cases without tokenising
    if low >= p["N"]:
        return verdict(True, f"at least {counted(low, 'pronoun')}, needs >= {p['N']}")
    if high < p["N"]:
        return verdict(False, f"at most {counted(high, 'pronoun')}, needs >= {p['N']}")
    count = sum(1 for token in pronoun_tokens(response) if token in PRONOUNS)
    return verdict(count >= p["N"], f"{counted(count, 'pronoun')}, needs >= {p['N']}")


ifbench_type(
    "count:pronouns",
    "Pronouns",
    (int_param("N", "fewest pronouns (NLTK tokens from IFBench's list)", 0, 1_000_000, 5, 25),),
    "The response should include at least {N} pronouns.",
    _check_pronouns,
    lambda rng: {"N": rng.randint(5, 25)},
)


def _check_keywords_multiple(response: str, p: Mapping[str, Any]) -> Verdict:
    counts = []
    for index, times in enumerate(KEYWORD_TIMES, start=1):
        keyword = p[f"keyword{index}"].strip()
        found = count_whole_word(keyword, response)  # whole words, case-insensitive
        if found != times:
            return verdict(False, f"{keyword!r} appears {found}×, needs exactly {times}×")
        counts.append(f"{keyword!r} {found}×")
    return verdict(True, ", ".join(counts))


def _sample_keywords(rng: Any) -> dict[str, Any]:
    words = rng.sample(SAMPLE_WORDS, k=5)
    return {f"keyword{i}": word for i, word in enumerate(words, start=1)}


ifbench_type(
    "count:keywords_multiple",
    "Keywords 1, 2, 3, 5 and 7 times",
    tuple(text_param(f"keyword{i}", f"must appear exactly {t} time(s)") for i, t in enumerate(KEYWORD_TIMES, 1)),
    "Include keyword {keyword1} once in your response, keyword {keyword2} twice in your response, keyword {keyword3} "
    "three times in your response, keyword {keyword4} five times in your response, and keyword {keyword5} seven "
    "times in your response.",
    _check_keywords_multiple,
    _sample_keywords,
    format_fn=lambda p: {k: v.strip() for k, v in p.items()},
)
