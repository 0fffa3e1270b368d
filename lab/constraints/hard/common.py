"""Shared pieces of the IFEval hard types: relations, regex handling, and the registering factory."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from lab.constraints.base import ConstraintType, Param, Verdict
from lab.constraints.hard.conflicts import CONFLICTS
from lab.constraints.registry import register

RELATIONS = ("less than", "at least")
RELATION_SYMBOL = {"less than": "<", "at least": ">="}

# IFEval's keyword list (instructions_util.WORD_LIST) is long; these common words serve for sampling.
SAMPLE_WORDS = (
    "answer", "balance", "bridge", "community", "culture", "detail", "energy", "future", "garden", "history",
    "journey", "language", "market", "memory", "method", "nature", "network", "ocean", "planet", "quality",
    "river", "science", "season", "signal", "simple", "story", "system", "travel", "value", "window",
)  # fmt: skip


def relation_param(name: str = "relation") -> Param:
    return Param(name, "choice", help="comparison with the threshold", choices=RELATIONS)


def compare(actual: int, relation: str, threshold: int) -> bool:
    return actual < threshold if relation == "less than" else actual >= threshold


def counted(n: int, noun: str) -> str:
    """'1 word', '412 words'."""
    return f"{n} {noun if n == 1 else noun + 's'}"


def needs(actual: int, relation: str, threshold: int, noun: str) -> str:
    """Evidence like '412 words, needs < 300' (a noun starting with '×' is not pluralised)."""
    amount = f"{actual} {noun}" if noun.startswith("×") else counted(actual, noun)
    return f"{amount}, needs {RELATION_SYMBOL[relation]} {threshold}"


@lru_cache(maxsize=1024)
def pattern(text: str, prefix: str = "", suffix: str = "", flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """IFEval builds regular expressions from user text (keywords, markers): prefix + text + suffix. Where that
    does not compile (the reference then raises re.error), the text is matched literally instead."""
    try:
        return re.compile(prefix + text + suffix, flags)
    except re.error:
        return re.compile(prefix + re.escape(text) + suffix, flags)


def quote_list(items: Any) -> str:
    return ", ".join(repr(item) for item in items)


_EMPTY = Verdict(False, 0.0, "empty response")


def empty_verdict() -> Verdict:
    return _EMPTY


def verdict(passed: bool, evidence: str) -> Verdict:
    return Verdict(passed, 1.0 if passed else 0.0, evidence)


def non_blank(check: Callable[[str, Mapping[str, Any]], Verdict]) -> Callable[[str, Mapping[str, Any]], Verdict]:
    """`check`, except that an empty or all-whitespace response fails (empty_verdict) without being checked."""

    def checked(response: str, values: Mapping[str, Any]) -> Verdict:
        if not response or response.isspace():  # i.e. not response.strip(), without copying
            return empty_verdict()
        return check(response, values)

    return checked


def hard_type(
    type_id: str,
    title: str,
    params: tuple[Param, ...],
    phrasings: tuple[str, ...],
    check: Callable[[str, Mapping[str, Any]], Verdict],
    sample: Callable[[random.Random], dict[str, Any]],
    format_fn: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    validate_fn: Callable[[dict[str, Any]], None] | None = None,
) -> ConstraintType:
    """Build and register a hard type. Like IFEval's evaluation, an all-whitespace response never passes."""
    return register(
        ConstraintType(
            id=type_id,
            kind="hard",
            group=type_id.split(":", 1)[0],
            title=title,
            params=params,
            phrasings=phrasings,
            check_fn=non_blank(check),
            sample_fn=sample,
            format_fn=format_fn,
            conflicts=CONFLICTS[type_id],
            validate_fn=validate_fn,
        )
    )
