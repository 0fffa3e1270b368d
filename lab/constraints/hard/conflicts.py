"""IFEval's INSTRUCTION_CONFLICTS (instructions_registry.py), made symmetric: pairs a composer must not combine."""

from __future__ import annotations

HARD_IDS: tuple[str, ...] = (
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
    "startend:quotation",
)

_ALL = set(HARD_IDS)

# As written in IFEval; every type also conflicts with itself (no duplicate types in one prompt).
_RAW: dict[str, set[str]] = {
    "language:response_language": {
        "detectable_format:multiple_sections",
        "keywords:existence",
        "keywords:frequency",
        "keywords:forbidden_words",
        "startend:end_checker",
        "change_case:english_capital",
        "change_case:english_lowercase",
    },
    "length_constraints:number_paragraphs": {
        "length_constraints:nth_paragraph_first_word",
        "length_constraints:number_sentences",
    },
    "length_constraints:nth_paragraph_first_word": {"length_constraints:number_paragraphs"},
    "detectable_format:constrained_response": set(_ALL),
    "detectable_format:multiple_sections": {
        "language:response_language",
        "detectable_format:number_highlighted_sections",
    },
    "detectable_format:json_format": _ALL - {"keywords:forbidden_words", "keywords:existence"},
    "combination:two_responses": _ALL
    - {
        "keywords:forbidden_words",
        "keywords:existence",
        "language:response_language",
        "detectable_format:title",
        "punctuation:no_comma",
    },
    "combination:repeat_prompt": _ALL - {"keywords:existence", "detectable_format:title", "punctuation:no_comma"},
    "change_case:capital_word_frequency": {"change_case:english_lowercase", "change_case:english_capital"},
    "change_case:english_lowercase": {"change_case:english_capital"},
    "startend:quotation": {"detectable_format:title"},
}


def _symmetric(raw: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {type_id: {type_id} for type_id in HARD_IDS}
    for type_id, others in raw.items():
        for other in others:
            table[type_id].add(other)
            table[other].add(type_id)
    return {type_id: frozenset(others) for type_id, others in table.items()}


CONFLICTS: dict[str, frozenset[str]] = _symmetric(_RAW)
