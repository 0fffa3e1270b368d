"""Word, sentence and capital-word counts exactly as IFEval computes them, offline and cached.

Sentences use NLTK's Punkt with the English punkt_tab data vendored in lab/data/nltk_data (no downloads).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, TypeVar

NLTK_DATA = Path(__file__).resolve().parent.parent / "data" / "nltk_data"
_WORD = re.compile(r"\w+")  # IFEval: nltk RegexpTokenizer(r"\w+"), i.e. re.findall with the same pattern
_CHUNK = re.compile(r"\S+")
_SIMPLE_WORD = re.compile(r"([A-Za-z]+)[.,!?;:]*")
_SPLIT_WORDS = {"cannot", "gimme", "gonna", "gotta", "lemme", "wanna"}  # MacIntyre contractions it splits
# What may follow a sentence's final period for NLTKWordTokenizer to split it off (its PUNCTUATION rule).
_CLOSERS_TO_END = re.compile(r"[\]\)}>\"\'»”’ ]*\s*\Z")
CACHED_TEXT_LIMIT = 20_000  # longer texts are not kept in caches (bounds their memory)
Result = TypeVar("Result")


def short_text_cache(maxsize: int, long_texts: int = 0) -> Callable[[Callable[[str], Result]], Callable[[str], Result]]:
    """lru_cache for functions of one text; texts over CACHED_TEXT_LIMIT characters are kept only in a separate
    cache of `long_texts` entries (none by default), which bounds the memory they take."""

    def wrap(function: Callable[[str], Result]) -> Callable[[str], Result]:
        cached = lru_cache(maxsize=maxsize)(function)
        cached_long = lru_cache(maxsize=long_texts)(function) if long_texts else function

        @wraps(function)
        def call(text: str) -> Result:
            return cached(text) if len(text) <= CACHED_TEXT_LIMIT else cached_long(text)

        def cache_clear() -> None:
            cached.cache_clear()
            if long_texts:
                cached_long.cache_clear()  # type: ignore[attr-defined]

        call.cache_clear = cache_clear  # type: ignore[attr-defined]
        return call

    return wrap


def use_vendored_nltk_data() -> None:
    """Put the vendored NLTK data first on nltk's search path (idempotent)."""
    import nltk

    path = str(NLTK_DATA)
    if path not in nltk.data.path:
        nltk.data.path.insert(0, path)


def _make_punkt() -> Any:
    # nltk is imported on first use: importing it takes seconds, and listing constraint types should not.
    from nltk.tokenize.punkt import PunktTokenizer

    use_vendored_nltk_data()

    class CachedPunkt(PunktTokenizer):
        """NLTK's English Punkt with two exact shortcuts: the sentence-break decision for a candidate context
        (a pure function of that short string) is memoised, and the last-whitespace scan uses str.rfind."""

        def __init__(self) -> None:
            super().__init__("english")
            self._decisions: dict[str, bool] = {}

        def text_contains_sentbreak(self, text: str) -> bool:
            decision = self._decisions.get(text)
            if decision is None:
                decision = super().text_contains_sentbreak(text)
                if len(text) <= 200:  # contexts are a word or two; keep the table small
                    if len(self._decisions) > 100_000:
                        self._decisions.clear()
                    self._decisions[text] = decision
            return decision

        def _get_last_whitespace_index(self, text: str) -> int:
            last = max(
                text.rfind(" "),
                text.rfind("\n"),
                text.rfind("\t"),
                text.rfind("\r"),
                text.rfind("\x0b"),
                text.rfind("\x0c"),
            )  # string.whitespace
            return max(last, 0)

    return CachedPunkt()


_punkt: Any = None
_word_tokenizer: Any = None


def _get_punkt() -> Any:
    global _punkt
    if _punkt is None:
        _punkt = _make_punkt()
    return _punkt


def _tokenize_words(snippet: str) -> list[str]:
    global _word_tokenizer
    if _word_tokenizer is None:
        from nltk.tokenize import NLTKWordTokenizer

        _word_tokenizer = NLTKWordTokenizer()
    return _word_tokenizer.tokenize(snippet)


def _is_plain_word(chunk: str) -> bool:
    return chunk.isascii() and chunk.isalpha() and chunk.lower() not in _SPLIT_WORDS


def _plain_leading_tokens(text: str, n: int) -> list[str] | None:
    """The first n tokens when the text starts with plain chunks: ASCII words (bar the contractions the tokenizer
    splits), each maybe followed by one of , ; : or by a run of ! and ? (each its own token). A sentence break can
    only follow the ! and ?, and it splits there anyway; None otherwise. tests/test_hard_properties.py checks this
    against nltk."""
    tokens: list[str] = []
    for chunk in text.split(None, n)[:n]:
        if _is_plain_word(chunk):
            tokens.append(chunk)
        elif len(chunk) > 1 and chunk[-1] in ",;:" and _is_plain_word(chunk[:-1]):
            tokens += (chunk[:-1], chunk[-1])
        elif (bare := chunk.rstrip("!?")) != chunk and _is_plain_word(bare):
            tokens += (bare, *chunk[len(bare) :])  # each ! and ? is a token, sentence break or not
        else:
            return None
        if len(tokens) >= n:
            return tokens[:n]
    return None


def leading_word_tokens(text: str, n: int) -> list[str]:
    """The first n tokens of nltk.word_tokenize(text) (fewer if it has fewer), splitting only as many sentences as
    needed: Punkt's span_tokenize is lazy, and its first spans do not depend on the text after them."""
    plain = _plain_leading_tokens(text, n)
    if plain is not None:
        return plain
    tokens: list[str] = []
    for start, end in _get_punkt().span_tokenize(text):
        tokens.extend(_sentence_head_tokens(text[start:end], n - len(tokens)))
        if len(tokens) >= n:
            break
    return tokens[:n]


def _sentence_head_tokens(sentence: str, n: int) -> list[str] | tuple[str, ...]:
    """At least the first n tokens of NLTKWordTokenizer().tokenize(sentence), tokenising only its first n + 1
    chunks: each chunk yields one or more tokens, decided by the chunk and the whitespace around it, except at the
    very end of the sentence; so the rest is replaced by the stand-in word "a" (see _capital_tokens_in_sentence)."""
    chunks = list(itertools.islice(_CHUNK.finditer(sentence), n + 2))
    if len(chunks) < n + 2 or _CLOSERS_TO_END.match(sentence, chunks[-1].start()):
        # (a final period's rule reaches across trailing quotes, brackets and spaces: then keep the real ending)
        return sentence_word_tokens(sentence)
    return _chunked_sentence_tokens(sentence[: chunks[-1].start()] + "a")[:-1]


def trailing_word_tokens(text: str, n: int) -> list[str]:
    """The last n tokens of nltk.word_tokenize(text) (fewer if it has fewer). Plain endings are read off directly
    (a final "word." is the tokens "word" and "."); otherwise every sentence is split and the last ones tokenised."""
    chunks = text.rsplit(None, n)[-n:]
    if n == 2 and len(chunks) == 2 and _is_plain_word(chunks[0]) and chunks[1] in (".", "!", "?"):
        return chunks  # "word ." ends with the tokens "word" and "."
    if n == 2 and len(chunks) == 2:
        if all(_is_plain_word(chunk) for chunk in chunks):
            return chunks
        last = chunks[1]
        if last.endswith(".") and len(last) > 1 and _is_plain_word(last[:-1]):
            return [last[:-1], "."]
    tokens: list[str] = []
    for sentence in reversed(split_sentences(text)):
        tokens[:0] = sentence_word_tokens(sentence)
        if len(tokens) >= n:
            break
    return tokens[-n:]


# Plain chunks: ASCII letters and digits, maybe joined by single hyphens, maybe followed by one of , ; : (split off:
# whitespace or the end follows), by a run of ! and ? (each its own token) or by one period (kept on the word, except
# on a sentence's last chunk: the final period is split off). No rule of the tokenizer changes anything else in
# them, unless a part is one of the contractions it splits (its rules for those look for word boundaries).
_PLAIN_CHUNK = re.compile(r"([A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)([,;:]|[!?]+|\.)?")
_PLAIN_SENTENCE = re.compile(r"\s*(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?:[,;:]|[!?]+|\.)?(?:\s+|\Z))*")
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.?|[,;:!?]")
_SPLIT_WORD = re.compile(r"(?i)(?:cannot|gimme|gonna|gotta|lemme|wanna)")
_CLOSERS = frozenset("])}>\"'»”’ ")  # _CLOSERS_TO_END's class


def _closers_start(text: str) -> int:
    """The first index from which _CLOSERS_TO_END matches (closers and spaces, then whitespace, to the end), found
    from the right in linear time (a regex search would retry every position of a long run of spaces)."""
    start = len(text.rstrip())
    while start and text[start - 1] in _CLOSERS:
        start -= 1
    return start


# A wider plain chunk: stars, a core (letters and digits, joined by single hyphens or periods, or by a comma or colon
# before a digit, which the tokenizer does not split off), maybe a period, stars, and a tail as above. Each star is a
# token; a period right after the core stays on it unless it ends the sentence's last chunk; a period after stars
# or after nothing else in the tail is its own token (stars are split off, or it is the final period).
_WIDE_CHUNK = re.compile(r"(\**)([A-Za-z0-9]+(?:(?:-|\.|[,:](?=[0-9]))[A-Za-z0-9]+)*)(\.?)(\**)([,;:]|[!?]+|\.)?")


def _plain_chunk_tokens(chunk: str, last: bool) -> tuple[str, ...] | None:
    """NLTKWordTokenizer's tokens of a plain chunk (see _PLAIN_CHUNK and _WIDE_CHUNK); None for any other chunk.
    `last`: the chunk ends its sentence (only spaces follow)."""
    match = _PLAIN_CHUNK.fullmatch(chunk)
    if match is not None:
        core, tail = match.groups()
        if _SPLIT_WORD.search(core):
            return None
        if tail is None:
            return (core,)
        if tail == ".":
            return (core, ".") if last else (chunk,)
        return (core, *tail)
    match = _WIDE_CHUNK.fullmatch(chunk)
    if match is None or _SPLIT_WORD.search(chunk):
        return None
    stars, core, period, more_stars, tail = match.groups()
    if period and tail == ".":  # ".." is an ellipsis rule's
        return None
    tokens = list(stars)
    if period and (more_stars or tail or not last):
        tokens.append(core + period)
    else:
        tokens.append(core)
        if period:
            tokens.append(".")
    tokens += more_stars
    if tail:
        tokens += tail
    return tuple(tokens)


@short_text_cache(maxsize=65536)
def _snippet_tokens(snippet: str) -> tuple[str, ...]:
    return tuple(_tokenize_words(snippet))


def _chunked_sentence_tokens(sentence: str) -> list[str]:
    """NLTKWordTokenizer().tokenize(sentence), chunk by chunk. Its rules only look across whitespace at the sentence
    start, at the one whitespace character next to a chunk, and (final period) at trailing closing quotes and
    brackets; so plain chunks are read off directly (a sentence of only plain chunks in one go) and every other
    chunk is tokenised in a small snippet that keeps exactly that context ("a" stands in for the neighbouring
    words; the per-snippet tokens are cached, as in _capital_tokens_in_sentence). tests/test_hard_properties.py
    checks word_tokens against nltk."""
    if _PLAIN_SENTENCE.fullmatch(sentence) and not _SPLIT_WORD.search(sentence):
        tokens = _PLAIN_TOKEN.findall(sentence)
        if tokens and tokens[-1][-1] == "." and len(tokens[-1]) > 1:
            tokens[-1:] = (tokens[-1][:-1], ".")
        return tokens
    chunks = list(_CHUNK.finditer(sentence))
    closers_from = _closers_start(sentence)
    last_index = len(chunks) - 1
    tokens = []
    for index, chunk in enumerate(chunks):
        word = chunk.group()
        start, end = chunk.span()
        at_end = end >= closers_from  # only closers and spaces follow
        if index == last_index or not at_end:
            plain = _plain_chunk_tokens(word, index == last_index)
            if plain is not None:
                tokens += plain
                continue
        before = sentence[:start] if index == 0 else "a" + sentence[start - 1]
        found = _snippet_tokens(before + word + (sentence[end:] if at_end else sentence[end] + "a"))
        if index > 0:
            if not found or found[0] != "a":
                return _tokenize_words(sentence)
            found = found[1:]
        if at_end:
            return tokens + list(found)  # the closers that follow are in this snippet already
        if not found or found[-1] != "a":
            return _tokenize_words(sentence)
        tokens += found[:-1]
    return tokens


@short_text_cache(maxsize=8192, long_texts=2)  # a long unbroken sentence is tokenised once for several types
def sentence_word_tokens(sentence: str) -> tuple[str, ...]:
    """NLTKWordTokenizer's tokens of one Punkt sentence (cached), chunk by chunk (see _chunked_sentence_tokens)."""
    return tuple(_chunked_sentence_tokens(sentence))


@short_text_cache(maxsize=1024)
def word_tokens(text: str) -> tuple[str, ...]:
    """nltk.word_tokenize(text): Punkt sentences, then the Treebank-style word tokenizer on each (cached)."""
    return tuple(token for sentence in split_sentences(text) for token in sentence_word_tokens(sentence))


def count_words(text: str) -> int:
    """Number of \\w+ runs (IFEval's count_words)."""
    return len(_WORD.findall(text))


@short_text_cache(maxsize=1024)
def split_sentences(text: str) -> tuple[str, ...]:
    """Sentences as NLTK's English Punkt tokenizer gives them (nltk.sent_tokenize)."""
    return tuple(_get_punkt().sentences_from_text(text))


def count_sentences(text: str) -> int:
    """Number of sentences as IFEval counts them (Punkt, English)."""
    return len(split_sentences(text))


@short_text_cache(maxsize=65536)
def _capital_tokens(snippet: str) -> int:
    return sum(1 for token in _tokenize_words(snippet) if token.isupper())


@short_text_cache(maxsize=8192)
def _capital_tokens_in_sentence(sentence: str) -> int:
    """Upper-case tokens of NLTKWordTokenizer().tokenize(sentence), tokenising only the chunks that can hold one.

    The tokenizer's rules only look across whitespace at the sentence start, the whitespace character next to a
    chunk, and (final period) at trailing closing quotes/brackets; so each chunk with an upper-case letter is
    tokenised in a small snippet that keeps exactly that context ("a" stands in for the neighbouring words) and
    the per-snippet counts are cached. tests/test_hard_properties.py checks this against the tokenizer itself.
    """
    total = 0
    chunks = list(_CHUNK.finditer(sentence))
    for index, chunk in enumerate(chunks):
        word = chunk.group()
        if word.islower():  # no upper-case character, so no upper-case token
            continue
        simple = _SIMPLE_WORD.fullmatch(word)
        if simple and simple.group(1).lower() not in _SPLIT_WORDS:
            # letters then plain punctuation: the tokenizer keeps the letters as one token
            total += simple.group(1).isupper()
            continue
        start, end = chunk.span()
        before = sentence[:start] if index == 0 else "a" + sentence[start - 1]
        rest = sentence[end:]
        after = rest if _CLOSERS_TO_END.match(rest) else rest[0] + "a"
        total += _capital_tokens(before + word + after)
    return total


@short_text_cache(maxsize=1024)
def count_capital_words(text: str) -> int:
    """Tokens of nltk.word_tokenize(text) that are all upper case (IFEval's capital_word_frequency)."""
    if text.islower():  # no upper-case character anywhere, so no upper-case token
        return 0
    return sum(_capital_tokens_in_sentence(s) for s in split_sentences(text) if not s.islower())


def clear_caches(memos: bool = True) -> None:
    """Forget cached results per text (for benchmarks and tests; results never go stale), and with `memos` also
    the tables of sub-results (Punkt decisions per candidate context, capital-token counts per snippet)."""
    split_sentences.cache_clear()
    word_tokens.cache_clear()
    sentence_word_tokens.cache_clear()
    count_capital_words.cache_clear()
    _capital_tokens_in_sentence.cache_clear()
    if memos:
        _capital_tokens.cache_clear()
        _snippet_tokens.cache_clear()
        if _punkt is not None:
            _punkt._decisions.clear()
