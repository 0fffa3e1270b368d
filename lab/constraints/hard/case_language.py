"""IFEval language and letter-case types: response_language, capital_word_frequency, english_capital/lowercase."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.constraints.base import Param, Verdict
from lab.constraints.hard.common import RELATIONS, compare, hard_type, needs, relation_param, verdict
from lab.constraints.language_id import detect_language
from lab.constraints.text_stats import count_capital_words

# IFEval's instructions_util.LANGUAGE_CODES: the languages its prompts ask for.
IFEVAL_LANGUAGES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi", "fr": "French",
    "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian", "bn": "Bengali", "uk": "Ukrainian",
    "th": "Thai", "ur": "Urdu", "ta": "Tamil", "te": "Telugu", "bg": "Bulgarian", "ko": "Korean", "pl": "Polish",
    "he": "Hebrew", "fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili", "kn": "Kannada",
    "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
}  # fmt: skip
# Every code langdetect can answer (its profiles), so any of them can be required.
DETECTABLE_LANGUAGES = tuple(sorted(set(IFEVAL_LANGUAGES) | {
    "af", "ca", "cs", "cy", "da", "el", "et", "hr", "hu", "id", "lt", "lv", "mk", "nl", "no", "ro", "sk", "sl",
    "so", "sq", "sv", "tl", "tr", "zh-cn", "zh-tw",
}))  # fmt: skip


def _language_name(code: str) -> str:
    return IFEVAL_LANGUAGES.get(code, code)


def _check_language(response: str, p: Mapping[str, Any]) -> Verdict:
    detected = detect_language(response)
    if detected is None:  # langdetect raised: IFEval counts the instruction as followed
        return verdict(True, "no detectable language features (counted as followed, as IFEval does)")
    passed = detected == p["language"]
    return verdict(passed, f"detected {_language_name(detected)} ({detected}), needs {p['language']}")


hard_type(
    "language:response_language",
    "Response language",
    (Param("language", "choice", help="ISO 639-1 code as langdetect reports it", choices=DETECTABLE_LANGUAGES),),
    (
        "Your ENTIRE response should be in {language} language, no other language is allowed.",
        "Write your whole answer in {language} only; do not use any other language.",
        "Respond exclusively in {language}.",
    ),
    _check_language,
    lambda rng: {"language": rng.choice(sorted(IFEVAL_LANGUAGES))},
    format_fn=lambda p: {"language": _language_name(p["language"])},
)


def _check_capital_words(response: str, p: Mapping[str, Any]) -> Verdict:
    count = count_capital_words(response)
    passed = compare(count, p["capital_relation"], p["capital_frequency"])
    return verdict(passed, needs(count, p["capital_relation"], p["capital_frequency"], "all-capital word"))


hard_type(
    "change_case:capital_word_frequency",
    "All-capital word frequency",
    (
        Param("capital_frequency", "int", help="threshold", low=1, high=100_000, sample_low=2, sample_high=10),
        relation_param("capital_relation"),
    ),
    (
        "In your response, words with all capital letters should appear {capital_relation} {capital_frequency} times.",
        "Use words written entirely in capital letters {capital_relation} {capital_frequency} times.",
        "Your answer should contain {capital_relation} {capital_frequency} words in ALL CAPS.",
    ),
    _check_capital_words,
    lambda rng: {"capital_frequency": rng.randint(2, 10), "capital_relation": rng.choice(RELATIONS)},
)


def _check_english_case(upper: bool):
    def check(response: str, p: Mapping[str, Any]) -> Verdict:
        case_ok = response.isupper() if upper else response.islower()
        case = "capital" if upper else "lowercase"
        if not case_ok:
            return verdict(False, f"not all {case} letters")
        detected = detect_language(response)
        if detected is None:  # langdetect raised: IFEval counts the instruction as followed
            return verdict(True, f"all {case}; no detectable language features (counted as followed)")
        return verdict(detected == "en", f"all {case}; detected language {detected}, needs en")

    return check


hard_type(
    "change_case:english_capital",
    "English, all capitals",
    (),
    (
        "Your entire response should be in English, and in all capital letters.",
        "Answer in English using only CAPITAL LETTERS.",
        "Write your whole response in English and in uppercase letters only.",
    ),
    _check_english_case(upper=True),
    lambda rng: {},
)

hard_type(
    "change_case:english_lowercase",
    "English, all lowercase",
    (),
    (
        "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.",
        "Answer in English using only lowercase letters; do not use any capital letters.",
        "Write your whole response in English, all in lowercase.",
    ),
    _check_english_case(upper=False),
    lambda rng: {},
)
