"""IFBench ratio:* types: stop-word share, sentence-type ratios, trigram overlap with a reference text, and three
sentences of equal length."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from lab.constraints.base import Verdict
from lab.constraints.hard.common import counted, verdict
from lab.constraints.hard.ifbench_common import ifbench_type, int_param, no_params, text_param
from lab.constraints.hard.ifbench_text import bare_lower_words_of, count_stopwords, split_into_sentences
from lab.constraints.text_stats import count_words, short_text_cache, word_tokens

# Stand-in reference texts for sampling ratio:overlap on its own (IFBench's prompts carry their own).
SAMPLE_REFERENCES = (
    "The river rose slowly through the night, and by morning the low fields were under water.",
    "A good recipe lists its ingredients first, then explains each step in the order you will need it.",
    "Early maps of the coast were drawn from memory by sailors who had seen it only from the sea.",
)


def _check_stop_words(response: str, p: Mapping[str, Any]) -> Verdict:
    words = count_words(response)
    if words == 0:
        return verdict(False, "no words")
    stop = count_stopwords(response)
    share = (stop / words) * 100  # the reference's arithmetic, so borderline shares compare the same way
    return verdict(share <= p["percentage"], f"{stop}/{words} stop words = {share:.1f}%, needs <= {p['percentage']}%")


ifbench_type(
    "ratio:stop_words",
    "Stop-word share",
    (int_param("percentage", "highest share of NLTK English stop words, in %", 0, 100_000, 20, 60),),
    "Ensure that stop words constitute no more than {percentage}% of the total words in your response.",
    _check_stop_words,
    lambda rng: {"percentage": rng.randint(20, 60)},
)


def _sentence_ends(text: str) -> tuple[int, int, int]:
    sentences = split_into_sentences(text)
    return (
        sum(1 for s in sentences if s.endswith(".")),
        sum(1 for s in sentences if s.endswith("?")),
        sum(1 for s in sentences if s.endswith("!")),
    )


def _check_sentence_type(response: str, p: Mapping[str, Any]) -> Verdict:
    declarative, interrogative, _ = _sentence_ends(response)
    return verdict(
        declarative == 2 * interrogative, f"{declarative} declarative, {interrogative} interrogative; needs 2:1"
    )


ifbench_type(
    "ratio:sentence_type",
    "2:1 declarative to interrogative",
    (),
    "Maintain a 2:1 ratio of declarative to interrogative sentences.",
    _check_sentence_type,
    no_params,
)


def _check_balance(response: str, p: Mapping[str, Any]) -> Verdict:
    declarative, interrogative, exclamatory = _sentence_ends(response)
    return verdict(
        declarative == interrogative == exclamatory,
        f"{declarative} '.', {interrogative} '?', {exclamatory} '!' sentences; needs equal counts",
    )


ifbench_type(
    "ratio:sentence_balance",
    "Balanced sentence types",
    (),
    "Ensure that the ratio of sentence types (declarative, interrogative, exclamatory) is balanced.",
    _check_balance,
    no_params,
)


@short_text_cache(maxsize=256)
def word_trigrams(text: str) -> frozenset[tuple[str, str, str]]:
    """set(nltk.ngrams(nltk.word_tokenize(text), 3)): IFBench's current trigrams are of NLTK word tokens."""
    tokens = word_tokens(text)
    return frozenset(zip(tokens, tokens[1:], tokens[2:], strict=False))


@lru_cache(maxsize=256)
def _reference_trigrams(reference: str) -> frozenset[tuple[str, str, str]]:
    return word_trigrams(reference)


def trigram_overlap(text: str, reference: str) -> tuple[int, int]:
    """(trigrams of text also in reference, trigrams of text), counting distinct word trigrams."""
    grams = word_trigrams(text)
    return len(grams & _reference_trigrams(reference)), len(grams)


def _check_overlap(response: str, p: Mapping[str, Any]) -> Verdict:
    shared, total = trigram_overlap(response, p["reference_text"])
    if not total:
        return verdict(False, "fewer than 3 word tokens")
    overlap = shared / total
    pct = p["percentage"]
    return verdict(pct - 2 <= overlap * 100 <= pct + 2, f"{overlap * 100:.1f}% of word trigrams shared, needs {pct}±2%")


ifbench_type(
    "ratio:overlap",
    "Trigram overlap with a reference text",
    (
        text_param("reference_text", "the text to overlap with"),
        int_param("percentage", "target overlap in % (±2)", 0, 100_000, 10, 60),
    ),
    # IFBench's prompt carries the reference text elsewhere; a composed prompt needs it in the constraint.
    "Maintain a trigram overlap of {percentage}% (±2%) with the provided reference text. "
    "Reference text: {reference_text}",
    _check_overlap,
    lambda rng: {"reference_text": rng.choice(SAMPLE_REFERENCES), "percentage": rng.randint(10, 60)},
)


def _check_three_sentences(response: str, p: Mapping[str, Any]) -> Verdict:
    sentences = split_into_sentences(response)
    if len(sentences) != 3:
        return verdict(False, f"{counted(len(sentences), 'sentence')}, needs 3")
    lengths = [len(s.strip()) for s in sentences]
    if len(set(lengths)) != 1:
        return verdict(False, f"3 sentences of {', '.join(map(str, lengths))} characters; needs equal")
    words = bare_lower_words_of(" ".join(sentences))  # lower-cased, punctuation dropped, as words:repeats reads words
    repeated = sorted({w for w in words if words.count(w) > 1}) if len(set(words)) != len(words) else []
    if repeated:
        return verdict(False, f"3 sentences of {lengths[0]} characters, but {repeated[0][:20]!r} is used twice")
    return verdict(True, f"3 sentences of {lengths[0]} characters, all words different")


ifbench_type(
    "ratio:sentence_words",
    "Three sentences of equal length",
    (),
    "Respond with three sentences, all containing the same number of characters but using all different words.",
    _check_three_sentences,
    no_params,
)
