"""Which constraints cannot be asked for together: IFEval's type table, soft conflicts, and parameter clashes.

Also parameter clashes (lowercase vs "SECTION", a forbidden word another constraint needs) and the word budget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from lab.constraints.registry import all_types
from lab.constraints.soft import SOFT_PARAM_CONFLICTS

Item = tuple[str, Mapping[str, Any]]  # (type id, params)

# Soft types that still make sense inside a JSON object (the rest shape the prose itself).
_JSON_COMPATIBLE_SOFT = frozenset(
    "soft:" + name
    for name in (
        "audience content_focus examples locale assumption avoid clarity verbosity expert_persona purpose "
        "formality stance vocabulary free_text"
    ).split()
)
# Hard type -> soft types it contradicts.
_HARD_SOFT = {
    "combination:repeat_prompt": frozenset({"soft:opening", "soft:form"}),  # the answer must open with the request
    "startend:end_checker": frozenset({"soft:closing"}),  # the last words are fixed
    "detectable_content:postscript": frozenset({"soft:closing"}),  # a P.S. comes last
}


@cache
def type_conflicts() -> dict[str, frozenset[str]]:
    """Symmetric type-level conflict table over every registered type (hard CONFLICTS + soft + hard/soft)."""
    from lab.constraints.hard import CONFLICTS

    types = all_types()
    soft_ids = {t.id for t in types if t.kind == "soft"}
    table: dict[str, set[str]] = {t.id: set() for t in types}

    def add(a: str, b: str) -> None:
        table.setdefault(a, set()).add(b)
        table.setdefault(b, set()).add(a)

    for a, others in CONFLICTS.items():
        for b in others:
            add(a, b)
    for t in types:
        for b in t.conflicts:
            add(t.id, b)
    for hard_id, softs in _HARD_SOFT.items():
        for b in softs:
            add(hard_id, b)
    for b in soft_ids - _JSON_COMPATIBLE_SOFT:
        add("detectable_format:json_format", b)
    from lab.constraints.hard.ifbench_conflicts import WHOLE_ANSWER

    for b in soft_ids:  # the whole answer is fixed (one sentence; IFBench's tasks, copies, options, CSV ...)
        for fixed in ("detectable_format:constrained_response", *sorted(WHOLE_ANSWER)):
            add(fixed, b)
    for type_id in table:  # one constraint of each type per prompt, as in IFEval
        add(type_id, type_id)
    return {k: frozenset(v) for k, v in table.items()}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def _required_text(type_id: str, params: Mapping[str, Any]) -> list[str]:
    """Text the response must contain because of this constraint."""
    if type_id == "keywords:existence":
        return list(params.get("keywords") or [])
    if type_id == "keywords:frequency" and params.get("relation") == "at least":
        return [params.get("keyword") or ""]
    if type_id == "startend:end_checker":
        return [params.get("end_phrase") or ""]
    if type_id == "length_constraints:nth_paragraph_first_word":
        return [params.get("first_word") or ""]
    if type_id == "detectable_format:multiple_sections":
        return [params.get("section_spliter") or ""]
    if type_id == "combination:repeat_prompt":
        return [params.get("prompt_to_repeat") or ""]
    if type_id == "sentence:keyword":  # IFBench's keyword types
        return [params.get("word") or ""]
    if type_id in ("words:keywords_specific_position", "words:words_position"):
        return [params.get("keyword") or ""]
    if type_id == "count:keywords_multiple":
        return [params.get(f"keyword{i}") or "" for i in range(1, 6)]
    return []


def _values_match(values: frozenset[str] | None, params: Mapping[str, Any]) -> bool:
    return values is None or any(v in values for v in params.values() if isinstance(v, str))


def _soft_pair(a: Item, b: Item) -> str | None:
    for (ta, va), (tb, vb) in SOFT_PARAM_CONFLICTS:
        for x, y in ((a, b), (b, a)):
            if x[0] == ta and y[0] == tb and _values_match(va, x[1]) and _values_match(vb, y[1]):
                return f"{x[0]} {dict(x[1])} contradicts {y[0]} {dict(y[1])}"
    return None


def _ordered_pair(a: Item, b: Item) -> str | None:
    """Parameter clashes where `a` is the constraint that forbids or limits something `b` needs."""
    (ta, pa), (tb, pb) = a, b
    if ta == "keywords:forbidden_words":
        needed = set().union(*(_words(t) for t in _required_text(tb, pb)))
        clash = sorted(needed & {w.lower() for w in pa.get("forbidden_words") or []})
        if clash:
            return f"{tb} needs {clash[0]!r}, which keywords:forbidden_words forbids"
    if ta == "punctuation:no_comma" and any("," in t for t in _required_text(tb, pb)):
        return f"{tb} needs a comma, which punctuation:no_comma forbids"
    if tb == "detectable_format:multiple_sections":
        splitter = pb.get("section_spliter") or ""
        if ta == "change_case:english_lowercase" and splitter != splitter.lower():
            return f"section marker {splitter!r} is not lowercase"
        if ta == "change_case:english_capital" and splitter != splitter.upper():
            return f"section marker {splitter!r} is not in capitals"
    if ta == "keywords:frequency" and pa.get("relation") == "less than" and tb == "keywords:existence":
        if int(pa.get("frequency") or 0) <= 1 and (pa.get("keyword") or "").lower() in {
            k.lower() for k in pb.get("keywords") or []
        }:
            return f"keyword {pa.get('keyword')!r} must both appear and appear less than once"
    if ta == "length_constraints:number_sentences" and pa.get("relation") == "less than":
        limit = int(pa.get("num_sentences") or 0)
        if tb == "length_constraints:number_words" and pb.get("relation") == "at least":
            # More than ~40 words per sentence is not a natural answer.
            if int(pb.get("num_words") or 0) > 40 * max(limit - 1, 0):
                return f"at least {pb.get('num_words')} words in fewer than {limit} sentences"
        parts = {
            "detectable_format:number_bullet_lists": "num_bullets",
            "detectable_format:multiple_sections": "num_sections",
            "length_constraints:nth_paragraph_first_word": "num_paragraphs",
        }
        if tb in parts and int(pb.get(parts[tb]) or 0) >= limit:
            return f"{pb.get(parts[tb])} parts of {tb} need at least as many sentences as the limit of {limit}"
    if ta == "soft:verbosity":
        brief = pa.get("detail") in {"very concise and to the point", "brief, covering only the essentials"}
        words, relation = int(pb.get("num_words") or 0), pb.get("relation")
        if tb == "length_constraints:number_words":
            if brief and relation == "at least" and words >= 150:
                return f"a brief answer cannot have at least {words} words"
            if not brief and relation == "less than" and words <= 100:
                return f"a detailed answer does not fit in fewer than {words} words"
        if tb == "length_constraints:number_sentences" and not brief:
            if relation == "less than" and int(pb.get("num_sentences") or 0) <= 4:
                return "a detailed answer does not fit in so few sentences"
    if ta == "soft:opening" and tb == "length_constraints:nth_paragraph_first_word":
        if int(pb.get("nth_paragraph") or 0) == 1:
            return "the first word is fixed, so the opening cannot be chosen freely"
    return None


def pair_conflict(a: Item, b: Item) -> str | None:
    """Why constraints a and b cannot be asked for together, or None when they can."""
    table = type_conflicts()
    if b[0] in table.get(a[0], ()):
        return f"{a[0]} conflicts with {b[0]}"
    return _soft_pair(a, b) or _ordered_pair(a, b) or _ordered_pair(b, a)


# Rough minimum words each structural demand costs: used to keep "less than N words" satisfiable.
_WORD_COST = {
    "length_constraints:number_paragraphs": ("num_paragraphs", 8),
    "length_constraints:nth_paragraph_first_word": ("num_paragraphs", 8),
    "detectable_format:number_bullet_lists": ("num_bullets", 3),
    "detectable_format:multiple_sections": ("num_sections", 6),
    "detectable_format:number_highlighted_sections": ("num_highlights", 2),
    "detectable_content:number_placeholders": ("num_placeholders", 1),
}


def minimum_words(items: Sequence[Item]) -> int:
    """A lower bound (with a little slack) on the words a response satisfying all `items` needs."""
    total = 5  # the answer itself
    for type_id, params in items:
        if type_id in _WORD_COST:
            name, cost = _WORD_COST[type_id]
            total += cost * int(params.get(name) or 0)
        elif type_id == "length_constraints:number_sentences" and params.get("relation") == "at least":
            total += 5 * int(params.get("num_sentences") or 0)
        elif type_id == "keywords:frequency" and params.get("relation") == "at least":
            total += int(params.get("frequency") or 0)
        elif type_id == "change_case:capital_word_frequency" and params.get("capital_relation") == "at least":
            total += int(params.get("capital_frequency") or 0)
        elif type_id == "detectable_content:postscript":
            total += 4
        elif type_id == "detectable_format:title":
            total += 2
        elif type_id.startswith("soft:"):
            total += 5  # a soft constraint needs a few words to show itself at all
        total += sum(len(_words(t)) for t in _required_text(type_id, params))
    return total


def find_conflict(items: Sequence[Item]) -> str | None:
    """The first reason the set cannot be satisfied together, or None when it is conflict-free."""
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            reason = pair_conflict(a, b)
            if reason:
                return reason
    for i, (type_id, params) in enumerate(items):
        if type_id == "length_constraints:number_words" and params.get("relation") == "less than":
            need = minimum_words([x for j, x in enumerate(items) if j != i])
            if int(params.get("num_words") or 0) <= need:
                return f"fewer than {params.get('num_words')} words leaves no room for the rest (needs ~{need})"
    return None
