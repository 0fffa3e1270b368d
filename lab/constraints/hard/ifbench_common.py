"""Registering IFBench types (family "ifbench") and the notes for verdicts the reference can't give reliably."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from lab.constraints.base import ConstraintType, Param, Verdict
from lab.constraints.hard.common import non_blank
from lab.constraints.hard.ifbench_conflicts import IFBENCH_CONFLICTS
from lab.constraints.registry import register

# Per type: (params, text) -> a note when IFBench's reference would not give a usable verdict there (it draws a
# random value, or raises on that text). Checked on the response and on each loose variant of it.
_NOTES: dict[str, Callable[[Mapping[str, Any], str], str | None]] = {}
REFERENCE_RAISES = "reference raises an error on this text"


def ifbench_type(
    type_id: str,
    title: str,
    params: tuple[Param, ...],
    description: str,
    check: Callable[[str, Mapping[str, Any]], Verdict],
    sample: Callable[[random.Random], dict[str, Any]],
    format_fn: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    note: Callable[[Mapping[str, Any], str], str | None] | None = None,
) -> ConstraintType:
    """Build and register an IFBench hard type. `description` is IFBench's own instruction text (a str.format
    template over the params, or over format_fn's output); an all-whitespace response never passes."""
    if note is not None:
        _NOTES[type_id] = note
    return register(
        ConstraintType(
            id=type_id,
            kind="hard",
            group=type_id.split(":", 1)[0],
            title=title,
            params=params,
            phrasings=(description,),
            check_fn=non_blank(check),
            sample_fn=sample,
            format_fn=format_fn,
            conflicts=IFBENCH_CONFLICTS[type_id],
            family="ifbench",
        )
    )


def ifbench_note(type_id: str, params: Mapping[str, Any], texts: list[str]) -> str | None:
    """The note for this IFBench verdict (see _NOTES), or None. `params` are validated values; `texts` the response
    and its loose variants (blank ones are never checked, by IFBench either)."""
    note = _NOTES.get(type_id)
    if note is None:
        return None
    for text in texts:
        if text.strip():
            found = note(params, text)
            if found:
                return found
    return None


def int_param(name: str, help: str, low: int, high: int, sample_low: int, sample_high: int) -> Param:
    return Param(name, "int", help=help, low=low, high=high, sample_low=sample_low, sample_high=sample_high)


def text_param(name: str, help: str) -> Param:
    return Param(name, "str", help=help)


def no_params(rng: random.Random) -> dict[str, Any]:
    return {}
