"""Text primitives of IFBench's checkers, exact and cached: its regex sentence splitter, punctuation stripping,
NLTK word tokens and the English stopword list (vendored in lab/data/nltk_data, no download)."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from functools import cache, lru_cache

from lab.constraints.text_stats import NLTK_DATA, short_text_cache, word_tokens

PUNCTUATION = string.punctuation
PUNCTUATION_SPACE = PUNCTUATION + " "  # IFBench strips ''.join(string.punctuation) + ' ' from words
DROP_PUNCTUATION = str.maketrans("", "", PUNCTUATION)
_WORD = re.compile(r"\w+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+")

# IFBench's instructions_util.split_into_sentences, step by step (same patterns, same order). Each step is skipped
# when a cheap test shows its pattern cannot match (a substring it needs is absent): same result, less scanning.
_ALPHABETS = "([A-Za-z])"
_STARTERS = (
    r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s|Wherever)"
)
_SUFFIXES = "(Inc|Ltd|Jr|Sr|Co)"
# Pre-checks that start with a literal '.' (then look behind it), which the regex engine scans for quickly.
_LETTER_DOT_LETTER_DOT = re.compile(r"\.[A-Za-z]\.")
_SPACE_LETTER_DOT_SPACE = re.compile(r"\. (?<=\s[A-Za-z]\. )")
_SPACE_LETTER_DOT = re.compile(r"\.(?<= [A-Za-z]\.)")
_DIGIT_DOT_DIGIT = re.compile(r"\.(?<=[0-9]\.)[0-9]")


def _has_any(*needles: str) -> Callable[[str], bool]:
    return lambda text: any(needle in text for needle in needles)


_STEPS_1 = (
    (re.compile("(Mr|St|Mrs|Ms|Dr)[.]"), "\\1<prd>", _has_any("Mr.", "St.", "Ms.", "Dr.", "Mrs.")),
    (
        re.compile("[.](com|net|org|io|gov|edu|me)"),
        "<prd>\\1",
        _has_any(".com", ".net", ".org", ".io", ".gov", ".edu", ".me"),
    ),
    (re.compile("([0-9])[.]([0-9])"), "\\1<prd>\\2", _DIGIT_DOT_DIGIT.search),
)
_MULTIPLE_DOTS = re.compile(r"\.{2,}")
_STEPS_2 = (
    (re.compile(r"\s" + _ALPHABETS + "[.] "), " \\1<prd> ", _SPACE_LETTER_DOT_SPACE.search),
    (re.compile("([A-Z][.][A-Z][.](?:[A-Z][.])?) " + _STARTERS), "\\1<stop> \\2", _LETTER_DOT_LETTER_DOT.search),
    (
        re.compile(_ALPHABETS + "[.]" + _ALPHABETS + "[.]" + _ALPHABETS + "[.]"),
        "\\1<prd>\\2<prd>\\3<prd>",
        _LETTER_DOT_LETTER_DOT.search,
    ),
    (re.compile(_ALPHABETS + "[.]" + _ALPHABETS + "[.]"), "\\1<prd>\\2<prd>", _LETTER_DOT_LETTER_DOT.search),
    (re.compile(" " + _SUFFIXES + "[.] " + _STARTERS), " \\1<stop> \\2", _has_any("Inc.", "Ltd.", "Jr.", "Sr.", "Co.")),
    (re.compile(" " + _SUFFIXES + "[.]"), " \\1<prd>", _has_any("Inc.", "Ltd.", "Jr.", "Sr.", "Co.")),
    (re.compile(" " + _ALPHABETS + "[.]"), " \\1<prd>", _SPACE_LETTER_DOT.search),
)


@short_text_cache(maxsize=4096, long_texts=8)  # all 8 loose variants of one long response
def split_into_sentences(text: str) -> tuple[str, ...]:
    """IFBench's rule-based sentence split (not Punkt): abbreviations, decimals, acronyms and '...' kept inside."""
    text = (" " + text + "  ").replace("\n", " ")
    if "." in text:  # every substitution below needs a period
        for pattern, replacement, may_match in _STEPS_1:
            if may_match(text):
                text = pattern.sub(replacement, text)
        if ".." in text:
            text = _MULTIPLE_DOTS.sub(lambda match: "<prd>" * len(match.group(0)) + "<stop>", text)
        if "Ph.D" in text:
            text = text.replace("Ph.D.", "Ph<prd>D<prd>")
        for pattern, replacement, may_match in _STEPS_2:
            if may_match(text):
                text = pattern.sub(replacement, text)
    if "”" in text:
        text = text.replace(".”", "”.")
    if '"' in text:
        text = text.replace('."', '".')
    if "!" in text:
        text = text.replace('!"', '"!')
    if "?" in text:
        text = text.replace('?"', '"?')
    text = text.replace(".", ".<stop>").replace("?", "?<stop>").replace("!", "!<stop>").replace("<prd>", ".")
    sentences = [s.strip() for s in text.split("<stop>")]
    if sentences and not sentences[-1]:
        sentences.pop()
    return tuple(sentences)


@short_text_cache(maxsize=1024)
def without_punctuation(text: str) -> str:
    """text.translate(...) dropping every string.punctuation character, as IFBench does before splitting words."""
    return text.translate(DROP_PUNCTUATION)


# Whitespace-split words of a text, as the checkers take them; cached, since many types of one response (and its
# loose variants) split the same text the same way.
@short_text_cache(maxsize=256)
def words_of(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@short_text_cache(maxsize=256)
def lower_words_of(text: str) -> tuple[str, ...]:
    return tuple(text.lower().split())


@short_text_cache(maxsize=256)
def bare_words_of(text: str) -> tuple[str, ...]:
    """Words after dropping punctuation."""
    return tuple(without_punctuation(text).split())


@short_text_cache(maxsize=256)
def lower_bare_words_of(text: str) -> tuple[str, ...]:
    """Punctuation dropped, then lower-cased (the order some checkers use)."""
    return tuple(without_punctuation(text).lower().split())


@short_text_cache(maxsize=256)
def bare_lower_words_of(text: str) -> tuple[str, ...]:
    """Lower-cased, then punctuation dropped (the order the others use)."""
    return tuple(without_punctuation(text.lower()).split())


@short_text_cache(maxsize=256)
def word_runs(text: str) -> frozenset[str]:
    """The distinct \\w+ runs of a text: a word w matches r"\\b" + w + r"\\b" there exactly when w is one of them."""
    return frozenset(_WORD.findall(text))


@short_text_cache(maxsize=256)
def lowered(text: str) -> str:
    return text.lower()


@short_text_cache(maxsize=256)
def alnum_word_tokens(text: str) -> tuple[str, ...]:
    """nltk.word_tokenize(text) without the tokens that have no letter or digit (IFBench's current word list)."""
    return tuple(token for token in word_tokens(text) if any(map(str.isalnum, token)))


@short_text_cache(maxsize=256)
def pronoun_tokens(text: str) -> tuple[str, ...]:
    """nltk.word_tokenize of the lower-cased text with '/' made a space, as count:pronouns reads it."""
    return word_tokens(text.replace("/", " ").lower())


@lru_cache(maxsize=1024)
def whole_word(word: str, ignore_case: bool) -> re.Pattern[str]:
    """r"\\b<word>\\b" (escaped), compiled once per keyword."""
    return re.compile(r"\b" + re.escape(word) + r"\b", re.IGNORECASE if ignore_case else 0)


_ASCII_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_")


def _ascii_whole_words(key: str, low: str, first_only: bool) -> int:
    """re.findall(r"\\b<key>\\b", low) counted with str.find: leftmost matches, each followed by a search after it
    (the regex's order), a match needing no word character on either side (\\w is [A-Za-z0-9_] in ASCII)."""
    count = position = 0
    size = len(key)
    while (index := low.find(key, position)) != -1:
        end = index + size
        if (index == 0 or low[index - 1] not in _ASCII_WORD_CHARS) and (
            end == len(low) or low[end] not in _ASCII_WORD_CHARS
        ):
            count += 1
            if first_only:
                break
            position = end
        else:
            position = index + 1
    return count


def count_whole_word(word: str, text: str, first_only: bool = False) -> int:
    """len(re.findall(r"\\b<word>\\b", text, re.IGNORECASE)) (with first_only: 1 if there is a match, else 0).
    For an ASCII text and a keyword of ASCII letters, digits and underscores, lower-casing changes neither word
    boundaries nor matches: the lower-cased keyword is then found in the lower-cased text without a regex."""
    if word and text.isascii() and _ASCII_WORD.fullmatch(word):
        return _ascii_whole_words(word.lower(), lowered(text), first_only)
    pattern = whole_word(word, True)
    if first_only:
        return int(pattern.search(text) is not None)
    return len(pattern.findall(text))


# count:pronouns counts pronoun tokens of nltk.word_tokenize(lower-cased text). Tokens are pieces of the text; the
# tokenizer cuts inside a \w+ run only for its contractions, and of those only gimme and lemme leave a pronoun
# ("me"): so the pronoun runs plus those two bound the count from above. A pronoun chunk standing alone or followed
# by one of , ; : or a run of ! ? is one pronoun token wherever its sentence ends (only a period's token depends on
# that), which bounds the count from below.
_PRONOUN_RUNS = re.compile(r"\w+")
_PRONOUN_CHUNK_TAIL = re.compile(r"(?:[,;:]|[!?]+)?(?=\s|\Z)")


def pronoun_count_bounds(text: str, pronouns: frozenset[str]) -> tuple[int, int]:
    """(low, high) bounds of the count of pronoun tokens in nltk.word_tokenize(text.replace('/', ' ').lower())."""
    plain = lowered(text).replace("/", " ")
    high = low = 0
    for run in _PRONOUN_RUNS.finditer(plain):
        word = run.group()
        if word in pronouns:
            high += 1
            start, end = run.span()
            if (start == 0 or plain[start - 1].isspace()) and _PRONOUN_CHUNK_TAIL.match(plain, end):
                low += 1
        elif word in ("gimme", "lemme"):
            high += 1
    return low, high


PER_TEXT_CACHES = (
    split_into_sentences,
    word_runs,
    lowered,
    alnum_word_tokens,
    pronoun_tokens,
    without_punctuation,
    words_of,
    lower_words_of,
    bare_words_of,
    lower_bare_words_of,
    bare_lower_words_of,
)


@cache
def english_stopwords() -> frozenset[str]:
    """nltk.corpus.stopwords.words("english"), from the vendored corpus file."""
    path = NLTK_DATA / "corpora" / "stopwords" / "english"
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def count_stopwords(text: str) -> int:
    """IFBench's count_stopwords: \\w+ tokens whose lower case is an English stopword."""
    stop = english_stopwords()
    return sum(1 for token in _WORD.findall(text) if token.lower() in stop)


__all__ = [
    "alnum_word_tokens",
    "count_whole_word",
    "lowered",
    "pronoun_count_bounds",
    "pronoun_tokens",
    "whole_word",
    "word_runs",
    "DROP_PUNCTUATION",
    "PER_TEXT_CACHES",
    "bare_lower_words_of",
    "bare_words_of",
    "lower_bare_words_of",
    "lower_words_of",
    "words_of",
    "PUNCTUATION",
    "PUNCTUATION_SPACE",
    "count_stopwords",
    "english_stopwords",
    "split_into_sentences",
    "without_punctuation",
    "word_tokens",
]
