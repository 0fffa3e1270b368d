"""The 58 IFBench test ids and which types they must not be combined with (IFBench has no conflict table;
these are ours): whole-answer tasks exclude everything, the rest clash where the rules contradict each other."""

from __future__ import annotations

from lab.constraints.hard.conflicts import HARD_IDS

IFBENCH_IDS: tuple[str, ...] = (
    "count:word_count_range", "count:unique_word_count", "ratio:stop_words", "ratio:sentence_type",
    "ratio:sentence_balance", "count:conjunctions", "count:person_names", "ratio:overlap", "count:numbers",
    "words:alphabet", "words:vowel", "words:consonants", "sentence:alliteration_increment", "words:palindrome",
    "count:punctuation", "format:parentheses", "format:quotes", "words:prime_lengths", "format:options",
    "format:newline", "format:emoji", "ratio:sentence_words", "count:words_japanese", "words:start_verb",
    "words:repeats", "sentence:keyword", "count:pronouns", "words:odd_even_syllables", "words:last_first",
    "words:paragraph_last_first", "sentence:increment", "words:no_consecutive", "format:line_indent",
    "format:quote_unquote", "format:list", "format:thesis", "format:sub-bullets", "format:no_bullets_bullets",
    "custom:multiples", "custom:mcq_count_length", "custom:reverse_newline", "custom:word_reverse",
    "custom:character_reverse", "custom:sentence_alphabet", "custom:european_capitals_sort", "custom:csv_city",
    "custom:csv_special_character", "custom:csv_quotes", "custom:date_format_list", "count:keywords_multiple",
    "words:keywords_specific_position", "words:words_position", "repeat:repeat_change", "repeat:repeat_simple",
    "repeat:repeat_span", "format:title_case", "format:output_template", "format:no_whitespace",
)  # fmt: skip

# The answer is fixed by the instruction itself (a given list, a copy, one option, a CSV table, no whitespace, one
# word per line): nothing else can be asked for alongside, soft constraints included (lab.constraints.conflicts).
WHOLE_ANSWER: frozenset[str] = frozenset(
    [t for t in IFBENCH_IDS if t.startswith(("custom:", "repeat:"))]
    + ["format:options", "format:no_whitespace", "format:newline", "ratio:sentence_words"]
)
# Rules on every single word: together with each other, or with text another constraint dictates, unsatisfiable.
_EVERY_WORD = {
    "words:alphabet", "words:vowel", "words:consonants", "words:prime_lengths", "words:odd_even_syllables",
    "words:no_consecutive",
}  # fmt: skip
_DICTATED_TEXT = {
    "keywords:existence", "keywords:frequency", "startend:end_checker", "detectable_content:postscript",
    "length_constraints:nth_paragraph_first_word", "detectable_format:multiple_sections", "detectable_format:title",
    "sentence:keyword", "count:keywords_multiple", "words:keywords_specific_position", "words:words_position",
    "count:person_names", "format:output_template", "detectable_format:constrained_response",
}  # fmt: skip
_SENTENCE_SHAPES = {
    "ratio:sentence_type", "ratio:sentence_balance", "sentence:increment", "sentence:alliteration_increment",
    "words:last_first", "format:emoji", "length_constraints:number_sentences",
}  # fmt: skip
_LINE_LAYOUTS = {
    "format:line_indent", "format:sub-bullets", "format:no_bullets_bullets", "format:list",
    "detectable_format:number_bullet_lists", "detectable_format:multiple_sections",
    "length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word",
    "words:paragraph_last_first", "words:vowel",
}  # fmt: skip

_PAIRS: tuple[tuple[str, str], ...] = (
    ("count:word_count_range", "length_constraints:number_words"),  # two word budgets
    ("ratio:sentence_type", "ratio:sentence_balance"),  # 2:1 vs 1:1:1
    ("format:title_case", "change_case:english_lowercase"),
    ("format:title_case", "change_case:english_capital"),
    ("format:output_template", "change_case:english_lowercase"),  # needs "My Answer:"
    ("format:output_template", "change_case:english_capital"),
    ("count:words_japanese", "language:response_language"),
    ("count:words_japanese", "change_case:english_lowercase"),
    ("count:words_japanese", "change_case:english_capital"),
    ("count:punctuation", "punctuation:no_comma"),  # needs a comma
    ("format:quote_unquote", "startend:quotation"),  # may not end with a quote
    ("words:repeats", "count:keywords_multiple"),  # one keyword seven times
    ("words:repeats", "keywords:frequency"),
    ("words:start_verb", "combination:repeat_prompt"),
    ("words:start_verb", "detectable_format:title"),
    ("words:start_verb", "startend:quotation"),
    ("format:thesis", "detectable_format:json_format"),
)


def _table() -> dict[str, frozenset[str]]:
    everything = set(HARD_IDS) | set(IFBENCH_IDS)
    table: dict[str, set[str]] = {t: {t} for t in IFBENCH_IDS}

    def add(a: str, b: str) -> None:
        if a in table:
            table[a].add(b)
        if b in table:
            table[b].add(a)

    for t in WHOLE_ANSWER:
        for other in everything:
            add(t, other)
    for t in IFBENCH_IDS:  # IFEval's table lets these combine with (almost) nothing
        for ifeval in (
            "detectable_format:constrained_response",
            "detectable_format:json_format",
            "combination:two_responses",
            "combination:repeat_prompt",
        ):
            add(t, ifeval)
    for group, others in ((_EVERY_WORD, _EVERY_WORD | _DICTATED_TEXT), (_SENTENCE_SHAPES, _SENTENCE_SHAPES)):
        for a in group:
            for b in others:
                if a != b:
                    add(a, b)
    for a in _LINE_LAYOUTS:
        for b in _LINE_LAYOUTS:
            if a != b and (a.startswith(("format:", "words:")) or b.startswith(("format:", "words:"))):
                add(a, b)
    for a, b in _PAIRS:
        add(a, b)
    return {t: frozenset(others) for t, others in table.items()}


# IFBench id -> ids (IFEval or IFBench) it conflicts with; lab.constraints.conflicts makes the relation symmetric.
IFBENCH_CONFLICTS: dict[str, frozenset[str]] = _table()
