"""Per-checkpoint metrics from scored eval samples: IFEval's four numbers, per-type pass rates, soft RM mean,
math accuracy (exact \\boxed{} match, and lm-eval's gsm8k flexible-extract: the last number), length and format
failures, with seeded 95 % bootstrap intervals on the headline numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evals.bootstrap import bootstrap_mean, bootstrap_ratio
from evals.domains import family_of
from evals.suites import EvalItem
from lab.constraints.ifeval_modes import LOOSE, STRICT
from lab.math_problems import flexible_matches
from lab.reward import RewardBreakdown

# IFEval's four numbers, in the order every table and figure shows them.
HEADLINE_ORDER = ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")
HEADLINE = (*HEADLINE_ORDER, "soft_mean", "math_accuracy", "math_accuracy_flexible")
# One results["per_item"] entry: its token count, its hard-constraint count, and per paired metric the field of
# its numerator and the field of its denominator (None: the metric is a mean over items).
ITEM_TOKENS = "t"
ITEM_CONSTRAINTS = "n"
PER_ITEM_FIELDS: dict[str, tuple[str, str | None]] = {
    "prompt_strict": ("ps", None),
    "prompt_loose": ("pl", None),
    "instruction_strict": ("si", ITEM_CONSTRAINTS),
    "instruction_loose": ("li", ITEM_CONSTRAINTS),
    "soft_mean": ("s", None),
    "math_accuracy": ("m", None),
    "math_accuracy_flexible": ("mf", None),
}


@dataclass(frozen=True)
class ItemOutcome:
    """What one answered item contributed, compact enough to keep per item for paired comparisons."""

    key: str
    part: str
    strict: tuple[bool, ...]  # hard constraints, in row order
    loose: tuple[bool, ...]
    soft: float | None  # mean RM probability over the item's soft constraints, None when unscored
    math: bool | None  # last \\boxed{} equals the answer
    tokens: int
    format_ok: bool
    math_flexible: bool | None = None  # last number equals the answer (lm-eval gsm8k flexible-extract)

    def compact(self) -> dict[str, Any]:
        out: dict[str, Any] = {ITEM_TOKENS: self.tokens}
        values: dict[str, float] = {}
        if self.strict:
            out[ITEM_CONSTRAINTS] = len(self.strict)
            values.update(
                prompt_strict=int(all(self.strict)),
                prompt_loose=int(all(self.loose)),
                instruction_strict=sum(self.strict),
                instruction_loose=sum(self.loose),
            )
        if self.soft is not None:
            values["soft_mean"] = round(self.soft, 6)
        if self.math is not None:
            values["math_accuracy"] = int(self.math)
        if self.math_flexible is not None:
            values["math_accuracy_flexible"] = int(self.math_flexible)
        out.update({PER_ITEM_FIELDS[metric][0]: value for metric, value in values.items()})
        return out


def item_outcome(item: EvalItem, result: RewardBreakdown, tokens: int) -> ItemOutcome:
    hard = [r for r in result.results if r.kind == "hard"]
    # An unclosed think block leaves no verdicts: every constraint counts as failed, as in training.
    strict = tuple(bool(r.strict.passed) if r.strict else False for r in hard)
    loose = tuple(bool(r.loose.passed) if r.loose else False for r in hard)
    soft_scores = [r.score for r in result.results if r.kind == "soft" and r.score is not None]
    soft = sum(soft_scores) / len(soft_scores) if soft_scores else None
    math = flexible = None
    if item.part == "math":
        math = bool(result.math.correct) if result.math else False
        flexible = bool(result.math and flexible_matches(result.answer, result.math.expected))
    return ItemOutcome(item.key, item.part, strict, loose, soft, math, int(tokens), bool(result.format_ok), flexible)


def compute_metrics(
    items: Sequence[EvalItem],
    results: Sequence[RewardBreakdown],
    token_counts: Sequence[int],
    max_new_tokens: int,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The metrics block of an evaluation's results (JSON-ready)."""
    outcomes = [item_outcome(i, r, t) for i, r, t in zip(items, results, token_counts, strict=True)]
    out: dict[str, Any] = {"n_items": len(outcomes), "parts": {}}
    for part in dict.fromkeys(o.part for o in outcomes):
        out["parts"][part] = sum(1 for o in outcomes if o.part == part)

    def interval(values: Sequence[float]) -> dict[str, Any] | None:
        return bootstrap_mean(values, n_resamples=resamples, seed=seed).as_dict() if values else None

    hard = [o for o in outcomes if o.strict]
    ifeval: dict[str, Any] = {}
    if hard:
        ifeval["prompt_strict"] = interval([float(all(o.strict)) for o in hard])
        ifeval["prompt_loose"] = interval([float(all(o.loose)) for o in hard])
        counts = [float(len(o.strict)) for o in hard]
        for name, verdicts in (
            ("instruction_strict", [o.strict for o in hard]),
            ("instruction_loose", [o.loose for o in hard]),
        ):
            passed = [float(sum(v)) for v in verdicts]
            ifeval[name] = bootstrap_ratio(passed, counts, n_resamples=resamples, seed=seed).as_dict()
    out["ifeval"] = ifeval
    out["per_type"] = _per_type(items, results)
    out["per_family"] = _per_family(out["per_type"])

    soft_items = [o for o in outcomes if o.soft is not None]
    n_soft_items = sum(1 for r in results if any(c.kind == "soft" for c in r.results))
    out["soft"] = {
        "mean": interval([o.soft for o in soft_items if o.soft is not None]),
        "items": n_soft_items,
        "scored_items": len(soft_items),
    }
    math = [o for o in outcomes if o.math is not None]
    out["math"] = {
        "accuracy": interval([float(bool(o.math)) for o in math]),
        "accuracy_flexible": interval([float(bool(o.math_flexible)) for o in math]),
        "items": len(math),
        "no_boxed_answer": sum(1 for i, r in zip(items, results, strict=True) if i.part == "math" and not _boxed(r)),
    }
    tokens = [o.tokens for o in outcomes]
    out["length"] = {
        "mean_tokens": sum(tokens) / len(tokens) if tokens else 0.0,
        # Greedy answers that hit the cap are usually loops; their share says how much the cap decided.
        "hit_max_new_tokens": sum(1 for t in tokens if t >= max_new_tokens) / len(tokens) if tokens else 0.0,
        "mean_words": sum(len(r.answer.split()) for r in results) / len(results) if results else 0.0,
    }
    failures = sum(1 for o in outcomes if not o.format_ok)
    out["format_failures"] = {"count": failures, "rate": failures / len(outcomes) if outcomes else 0.0}
    out["headline"] = headline(out)
    out["per_item"] = {o.key: o.compact() for o in outcomes}
    return out


def _boxed(result: RewardBreakdown) -> bool:
    return bool(result.math and result.math.boxed is not None)


def _per_type(items: Sequence[EvalItem], results: Sequence[RewardBreakdown]) -> dict[str, dict[str, Any]]:
    """Per constraint type: strict/loose pass rates (hard) or mean RM probability (soft), with counts."""
    acc: dict[str, dict[str, Any]] = {}
    for result in results:
        for r in result.results:
            entry = acc.setdefault(r.id, {"kind": r.kind, "n": 0, STRICT: 0.0, LOOSE: 0.0, "scored": 0, "sum": 0.0})
            entry["n"] += 1
            if r.kind == "hard":
                entry[STRICT] += float(bool(r.strict and r.strict.passed))
                entry[LOOSE] += float(bool(r.loose and r.loose.passed))
            elif r.score is not None:
                entry["scored"] += 1
                entry["sum"] += r.score
    out = {}
    for type_id, e in sorted(acc.items()):
        family = family_of(type_id, default="unknown")
        if e["kind"] == "hard":
            strict, loose = e[STRICT] / e["n"], e[LOOSE] / e["n"]
            out[type_id] = {"kind": "hard", "family": family, "n": e["n"], STRICT: strict, LOOSE: loose}
        else:
            mean = e["sum"] / e["scored"] if e["scored"] else None
            out[type_id] = {"kind": "soft", "family": family, "n": e["n"], "scored": e["scored"], "mean": mean}
    return out


def _per_family(per_type: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Instruction-level strict/loose pass rates per hard family (ifeval, ifbench): a mixed file's two halves."""
    out: dict[str, dict[str, Any]] = {}
    for entry in per_type.values():
        if entry["kind"] != "hard":
            continue
        acc = out.setdefault(entry["family"], {"n": 0, STRICT: 0.0, LOOSE: 0.0})
        acc["n"] += entry["n"]
        acc[STRICT] += entry[STRICT] * entry["n"]
        acc[LOOSE] += entry[LOOSE] * entry["n"]
    return {f: {"n": a["n"], STRICT: a[STRICT] / a["n"], LOOSE: a[LOOSE] / a["n"]} for f, a in out.items()}


def headline(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The flat numbers a table shows: IFEval's four, soft mean, math accuracy (boxed and flexible), length and
    format failures."""
    ifeval = metrics.get("ifeval", {})
    flat: dict[str, float | None] = {}
    for name in HEADLINE[:4]:
        flat[name] = ifeval[name]["value"] if ifeval.get(name) else None
    soft = (metrics.get("soft") or {}).get("mean")
    flat["soft_mean"] = soft["value"] if soft else None
    math = metrics.get("math") or {}
    for name, key in (("math_accuracy", "accuracy"), ("math_accuracy_flexible", "accuracy_flexible")):
        flat[name] = math[key]["value"] if math.get(key) else None
    flat["mean_tokens"] = (metrics.get("length") or {}).get("mean_tokens")
    flat["format_failure_rate"] = (metrics.get("format_failures") or {}).get("rate")
    return flat
