"""Per-constraint reward breakdown: hard constraints by code (strict/loose), soft by a SoftScorer, math by \\boxed{}.

Checked on the answer after a closed `</think>`; an unclosed think block is a format failure worth 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from lab.constraints.base import Verdict
from lab.constraints.ifeval_modes import LOOSE, STRICT, VERDICT_MODES, check_hard
from lab.constraints.registry import get_type
from lab.errors import LabError
from lab.math_problems import LAST_NUMBER, answer_matches, flexible_matches

AGGREGATES = ("mean", "all_or_nothing")
HARD_MODES = VERDICT_MODES
NOT_SCORED = "not scored — no reward model selected"
UNCLOSED_THINK = "unclosed_think"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@runtime_checkable
class SoftScorer(Protocol):
    """Scores (response, constraint text) pairs: the probability that the response adheres to the constraint."""

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


@dataclass(frozen=True)
class ConstraintResult:
    """One constraint's outcome. `score` is None (and `passed` None) when nothing could score it."""

    index: int
    id: str
    kind: str
    text: str
    params: Mapping[str, Any]
    score: float | None
    passed: bool | None
    evidence: str
    strict: Verdict | None = None
    loose: Verdict | None = None
    weight: float = 1.0

    @property
    def scored(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class MathResult:
    expected: str
    boxed: str | None
    correct: bool


@dataclass(frozen=True)
class RewardBreakdown:
    """The reward of one response and what it is made of; `label` says exactly what the number covers."""

    reward: float | None
    aggregate: str
    label: str
    results: tuple[ConstraintResult, ...]
    answer: str
    thinking: str | None
    format_ok: bool
    flags: tuple[str, ...] = ()
    source: str = ""
    math: MathResult | None = None
    n_scored: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for storage and display."""
        out = asdict(self)
        out["results"] = [dict(asdict(r), params=dict(r.params)) for r in self.results]
        return out


@dataclass(frozen=True)
class ThinkSplit:
    thinking: str | None
    answer: str
    closed: bool  # False only for an opened, never closed think block


def _reasoning(text: str) -> str:
    """Reasoning text without its think tags; several blocks are kept apart by a blank line."""
    parts = [p.strip() for p in text.replace(THINK_CLOSE, THINK_OPEN).split(THINK_OPEN)]
    return "\n\n".join(p for p in parts if p)


def split_thinking(response: str, think_opened: bool = False) -> ThinkSplit:
    """Separate reasoning from the answer. `think_opened`: the prompt already opened `<think>` for the model.

    The answer is the text after the LAST `</think>`; everything before it is reasoning (several think blocks
    included). A `<think>` opened after that last close and never closed is an unclosed block: no answer.
    """
    head, closed, answer = response.rpartition(THINK_CLOSE)
    if THINK_OPEN in answer or (not closed and think_opened):
        return ThinkSplit(_reasoning(response), "", False)
    if closed:
        return ThinkSplit(_reasoning(head), answer.strip(), True)
    return ThinkSplit(None, response.strip(), True)


def _as_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise LabError(f"must be a list or a JSON list, got {value[:60]!r}", field=name) from None
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise LabError(f"must be a list, got {type(value).__name__}", field=name)
    return list(value)


@dataclass(frozen=True)
class RowConstraint:
    """One constraint of a row, validated: position, type id, kind, params and instruction text."""

    index: int
    id: str
    kind: str
    params: dict[str, Any]
    text: str


def row_constraints(row: Mapping[str, Any]) -> list[RowConstraint]:
    """The constraints of a row (IFEval / curriculum shape), validated; kwargs may be JSON, null or carry nulls."""
    ids = _as_list(row.get("instruction_id_list"), "instruction_id_list")
    kwargs = _as_list(row.get("kwargs"), "kwargs") or [{}] * len(ids)
    texts = _as_list(row.get("constraints"), "constraints") or [None] * len(ids)
    if len(kwargs) != len(ids):
        raise LabError(f"has {len(kwargs)} entries but instruction_id_list has {len(ids)}", field="kwargs")
    if len(texts) != len(ids):
        raise LabError(f"has {len(texts)} entries but instruction_id_list has {len(ids)}", field="constraints")
    specs = []
    for i, (type_id, params, text) in enumerate(zip(ids, kwargs, texts, strict=True)):
        if isinstance(params, str):
            try:
                params = json.loads(params) if params.strip() else {}
            except json.JSONDecodeError:
                raise LabError(f"entry {i} is not valid JSON: {params[:60]!r}", field="kwargs") from None
        if params is not None and not isinstance(params, Mapping):
            raise LabError(f"entry {i} must be an object, got {type(params).__name__}", field="kwargs")
        ctype = get_type(str(type_id))
        values = ctype.validate(params)
        specs.append(RowConstraint(i, ctype.id, ctype.kind, values, text or ctype.describe(values)))
    return specs


def _weight_of(weights: Sequence[float] | Mapping[str, float] | None, spec: RowConstraint, n: int) -> float:
    if weights is None:
        return 1.0
    if isinstance(weights, Mapping):
        value = weights.get(spec.id, weights.get(spec.kind, 1.0))
    else:
        if len(weights) != n:
            raise LabError(f"has {len(weights)} entries for {n} constraints", field="weights")
        value = weights[spec.index]
    if not isinstance(value, int | float) or value < 0:
        raise LabError(f"must be numbers >= 0, got {value!r}", field="weights")
    return float(value)


def _hard_result(spec: RowConstraint, answer: str, weight: float, hard_mode: str, loose: bool) -> ConstraintResult:
    strict = check_hard(spec.id, answer, spec.params, loose=False)
    loose_verdict = check_hard(spec.id, answer, spec.params, loose=True) if loose or hard_mode == LOOSE else None
    used = loose_verdict if hard_mode == LOOSE else strict
    assert used is not None
    return ConstraintResult(
        spec.index, spec.id, "hard", spec.text, spec.params, used.score, used.passed, used.evidence,
        strict, loose_verdict, weight,
    )  # fmt: skip


def _soft_result(spec: RowConstraint, prob: float | None, weight: float) -> ConstraintResult:
    if prob is None:
        return ConstraintResult(
            spec.index, spec.id, "soft", spec.text, spec.params, None, None, NOT_SCORED, weight=weight
        )
    prob = min(1.0, max(0.0, float(prob)))
    evidence = f"reward model: p(adheres) = {prob:.2f}"
    return ConstraintResult(
        spec.index, spec.id, "soft", spec.text, spec.params, prob, prob >= 0.5, evidence, weight=weight
    )


def _aggregate(results: Sequence[ConstraintResult], aggregate: str) -> tuple[float | None, str]:
    scored = [r for r in results if r.scored and r.weight > 0]
    unscored_soft = sum(1 for r in results if not r.scored)
    if not results:
        return None, "no constraints to score"
    if not scored:
        return None, f"nothing scored — {unscored_soft} soft constraint(s) need a reward model"
    hard = sum(1 for r in scored if r.kind == "hard")
    soft = len(scored) - hard
    if aggregate == "mean":
        total = sum(r.weight for r in scored)
        reward = sum(r.weight * (r.score or 0.0) for r in scored) / total if total else 0.0
        weighted = any(r.weight != 1.0 for r in results)
        what = "weighted mean" if weighted else "mean"
    else:
        reward = 1.0 if all(r.passed for r in scored) else 0.0
        what = "all-or-nothing"
    label = f"{what} over {len(scored)} of {len(results)} constraints ({hard} hard, {soft} soft)"
    if unscored_soft:
        label += f"; {unscored_soft} soft {NOT_SCORED}"
    return reward, label


def check_options(aggregate: str, hard_mode: str) -> None:
    if aggregate not in AGGREGATES:
        raise LabError(f"must be one of {', '.join(AGGREGATES)}, got {aggregate!r}", field="aggregate")
    if hard_mode not in HARD_MODES:
        raise LabError(f"must be one of {', '.join(HARD_MODES)}, got {hard_mode!r}", field="hard_mode")


def breakdown_batch(
    rows: Sequence[Mapping[str, Any]],
    responses: Sequence[str],
    soft_scorer: SoftScorer | None = None,
    aggregate: str = "mean",
    weights: Sequence[float] | Mapping[str, float] | None = None,
    hard_mode: str = STRICT,
    loose: bool = True,
    think_opened: bool = False,
) -> list[RewardBreakdown]:
    """Breakdowns for many (row, response) pairs; soft constraints are scored in one call to the scorer."""
    check_options(aggregate, hard_mode)
    if len(rows) != len(responses):
        raise LabError(f"{len(rows)} rows but {len(responses)} responses", field="responses")
    splits = [split_thinking(r or "", think_opened) for r in responses]
    specs = [[] if _is_math(row) else row_constraints(row) for row in rows]
    pairs: list[tuple[str, str]] = []
    where: list[tuple[int, int]] = []
    for i, (split, row_specs) in enumerate(zip(splits, specs, strict=True)):
        if split.closed:
            for spec in row_specs:
                if spec.kind == "soft":
                    pairs.append((split.answer, spec.text))
                    where.append((i, spec.index))
    probs: dict[tuple[int, int], float] = {}
    if soft_scorer is not None and pairs:
        scores = list(soft_scorer.score(pairs))
        if len(scores) != len(pairs):
            raise LabError(f"soft scorer returned {len(scores)} scores for {len(pairs)} pairs", field="soft_scorer")
        probs = dict(zip(where, scores, strict=True))
    return [
        _one(row, split, row_specs, probs, i, aggregate, weights, hard_mode, loose)
        for i, (row, split, row_specs) in enumerate(zip(rows, splits, specs, strict=True))
    ]


def _is_math(row: Mapping[str, Any]) -> bool:
    return row.get("source") == "math" and row.get("answer") not in (None, "")


def _one(
    row: Mapping[str, Any],
    split: ThinkSplit,
    specs: list[RowConstraint],
    probs: Mapping[tuple[int, int], float],
    i: int,
    aggregate: str,
    weights: Sequence[float] | Mapping[str, float] | None,
    hard_mode: str,
    loose: bool,
) -> RewardBreakdown:
    source = str(row.get("source") or "")
    if not split.closed:
        failed = tuple(
            ConstraintResult(
                s.index, s.id, s.kind, s.text, s.params, 0.0, False, "not checked: think block never closed"
            )
            for s in specs
        )
        label = "0 — format failure: the <think> block was never closed"
        return RewardBreakdown(0.0, aggregate, label, failed, "", split.thinking, False, (UNCLOSED_THINK,), source)
    if _is_math(row):
        correct, boxed = answer_matches(split.answer, row["answer"])
        if row.get("answer_match") == LAST_NUMBER:
            correct = flexible_matches(split.answer, row["answer"])
            label = "math: the answer's last number against the expected one"
        else:
            label = "math: exact match of the last \\boxed{} with the answer"
        math = MathResult(str(row["answer"]), boxed, correct)
        reward = 1.0 if correct else 0.0
        return RewardBreakdown(reward, aggregate, label, (), split.answer, split.thinking, True, (), source, math, 1)
    results = []
    for spec in specs:
        weight = _weight_of(weights, spec, len(specs))
        if spec.kind == "hard":
            results.append(_hard_result(spec, split.answer, weight, hard_mode, loose))
        else:
            results.append(_soft_result(spec, probs.get((i, spec.index)), weight))
    reward, label = _aggregate(results, aggregate)
    n_scored = sum(1 for r in results if r.scored)
    return RewardBreakdown(
        reward, aggregate, label, tuple(results), split.answer, split.thinking, True, (), source, None, n_scored
    )


def breakdown(
    row: Mapping[str, Any],
    response: str,
    soft_scorer: SoftScorer | None = None,
    aggregate: str = "mean",
    weights: Sequence[float] | Mapping[str, float] | None = None,
    hard_mode: str = STRICT,
    loose: bool = True,
    think_opened: bool = False,
) -> RewardBreakdown:
    """The reward of `response` to `row` with one result per constraint (see module docstring).

    `weights`: a list parallel to the row's constraints, or a mapping from type id or kind ("hard"/"soft") to a
    weight (default 1). `hard_mode` picks the IFEval verdict that scores hard constraints; `loose=False` skips
    computing the loose verdicts when only strict ones are needed (faster, as in training).
    """
    return breakdown_batch([row], [response], soft_scorer, aggregate, weights, hard_mode, loose, think_opened)[0]


__all__ = [
    "AGGREGATES",
    "NOT_SCORED",
    "ConstraintResult",
    "MathResult",
    "RowConstraint",
    "RewardBreakdown",
    "SoftScorer",
    "ThinkSplit",
    "breakdown",
    "breakdown_batch",
    "row_constraints",
    "split_thinking",
]
