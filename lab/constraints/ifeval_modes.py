"""IFEval's scoring conventions: strict and loose checking (8 response variants) and its four metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lab.constraints.base import CheckFn, Verdict
from lab.constraints.registry import get_type
from lab.constraints.text_stats import short_text_cache
from lab.errors import LabError

# The two IFEval verdicts of a hard constraint: the response as written, or the best of its 8 loose variants.
# Their names key the stored verdicts ("strict"/"loose" of each result and per-type entry) and name the modes.
STRICT = "strict"
LOOSE = "loose"
VERDICT_MODES = (STRICT, LOOSE)

VARIANT_NAMES = (
    "as written",
    "without *",
    "without first line",
    "without last line",
    "without first and last line",
    "without first line and *",
    "without last line and *",
    "without first and last line and *",
)


def loose_variants(response: str) -> list[str]:
    """IFEval's 8 loose variants, in its order (the response itself first)."""
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    ]


@short_text_cache(maxsize=16, long_texts=2)
def _variants_to_try(response: str) -> tuple[tuple[str, str], ...]:
    """Loose variants after the first, skipping any text already tried (the same text gets the same verdict) and
    blank ones (a blank text never passes, in IFEval's evaluation and here). Cached: a response's constraints all
    use the same variants."""
    seen = {response}
    todo = []
    for name, variant in zip(VARIANT_NAMES[1:], loose_variants(response)[1:], strict=True):
        if variant not in seen and variant and not variant.isspace():
            seen.add(variant)
            todo.append((name, variant))
    return tuple(todo)


# (type id, repr(kwargs)) -> (check function, validated params)
_VALIDATED: dict[tuple[str, str], tuple[CheckFn, dict[str, Any]]] = {}


def _hard_type(type_id: str) -> Any:
    constraint = get_type(type_id)
    if constraint.kind != "hard" or constraint.check_fn is None:
        raise LabError(f"{type_id!r} is a soft constraint; only hard (IFEval) types are checked here", field="type_id")
    return constraint


def _resolve(type_id: str, response: Any, params: Mapping[str, Any] | None) -> tuple[CheckFn, dict[str, Any]]:
    if not isinstance(response, str):
        _hard_type(type_id)  # an unknown id or a soft type is reported first
        raise LabError(f"must be a string, got {type(response).__name__}", field="response")
    # Memoised: one constraint is checked on many responses (rollouts, loose variants). repr() tells True, 1 and
    # 1.0 apart (only 1 is a valid count) and takes lists as they are.
    key = (type_id, repr(params))
    resolved = _VALIDATED.get(key)
    if resolved is None:
        constraint = _hard_type(type_id)
        resolved = (constraint.check_fn, constraint.validate(params))
        if len(key[1]) <= 2000:  # long texts in kwargs (a prompt to repeat) are not kept
            if len(_VALIDATED) >= 4096:
                _VALIDATED.clear()
            _VALIDATED[key] = resolved
    return resolved


def check_hard_modes(type_id: str, response: str, params: Mapping[str, Any] | None) -> tuple[Verdict, Verdict]:
    """(strict, loose) verdicts of one hard constraint, as IFEval computes them. Unknown ids and bad params
    raise LabError naming the field."""
    check, values = _resolve(type_id, response, params)
    strict = check(response, values)
    if strict.passed:
        return strict, strict
    for name, variant in _variants_to_try(response):
        result = check(variant, values)
        if result.passed:
            return strict, Verdict(True, 1.0, f"{result.evidence} (loose: {name})")
    return strict, strict


def check_hard(type_id: str, response: str, params: Mapping[str, Any] | None, loose: bool = False) -> Verdict:
    """Check one hard constraint as IFEval does: strict on the response itself, or loose (passes if any of the
    8 variants passes). Unknown ids and bad params raise LabError naming the field."""
    if loose:
        return check_hard_modes(type_id, response, params)[1]
    check, values = _resolve(type_id, response, params)
    return check(response, values)


def ifeval_metrics(strict: Sequence[Sequence[bool]], loose: Sequence[Sequence[bool]]) -> dict[str, float]:
    """IFEval's four accuracies from per-prompt lists of per-instruction results (strict and loose).

    Prompt level: share of prompts whose instructions all pass. Instruction level: share of all instructions.
    Empty input gives 0.0 for each.
    """
    if len(strict) != len(loose):
        raise LabError(f"strict has {len(strict)} prompts but loose has {len(loose)}", field="loose")

    def prompt_level(rows: Sequence[Sequence[bool]]) -> float:
        return sum(1 for row in rows if all(row)) / len(rows) if rows else 0.0

    def inst_level(rows: Sequence[Sequence[bool]]) -> float:
        flat = [bool(x) for row in rows for x in row]
        return sum(flat) / len(flat) if flat else 0.0

    return {
        "prompt_level_strict_acc": prompt_level(strict),
        "inst_level_strict_acc": inst_level(strict),
        "prompt_level_loose_acc": prompt_level(loose),
        "inst_level_loose_acc": inst_level(loose),
    }
