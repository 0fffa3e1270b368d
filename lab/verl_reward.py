"""The breakdown as a verl custom reward function: `compute_score(data_source, solution_str, ground_truth, extra_info)`.

`ground_truth` is the row's instruction_id_list/kwargs/constraints (dict or JSON) or a math answer; reward_kwargs
may give `rm_path`, `aggregate`, `scale`. Every call returns the same keys (verl stacks them): NaN = not in row.
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any

from lab.constraints.ifeval_modes import LOOSE, STRICT
from lab.constraints.registry import all_types
from lab.reward import SoftScorer, breakdown

_ROW_KEYS = ("instruction_id_list", "kwargs", "constraints", "answer", "source", "answer_match")


def _as_mapping(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError:
            return None
        return loaded if isinstance(loaded, dict) else None
    return None


def _row(data_source: str, ground_truth: Any, extra_info: Any) -> dict[str, Any]:
    row: dict[str, Any] = {}
    extra = _as_mapping(extra_info) or {}
    row.update({k: extra[k] for k in _ROW_KEYS if k in extra})
    truth = _as_mapping(ground_truth)
    if truth is not None:
        row.update({k: truth[k] for k in _ROW_KEYS if k in truth})
    elif ground_truth is not None and ground_truth != "":
        row["answer"] = str(ground_truth)  # a bare answer: a math item
        row.setdefault("source", "math")
    row.setdefault("source", data_source)
    if row.get("answer") not in (None, "") and not row.get("instruction_id_list"):
        row["source"] = "math"  # an answer and no constraints: scored by its boxed answer (or last number)
    return row


@cache
def _load_scorer(path: str) -> SoftScorer:
    from lab.rm_scorer import load_rm_scorer

    return load_rm_scorer(path)


@cache
def _type_ids() -> tuple[str, ...]:
    return tuple(t.id for t in all_types())


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Any = None,
    soft_scorer: SoftScorer | None = None,
    rm_path: str | None = None,
    aggregate: str = "mean",
    hard_mode: str = STRICT,
    think_opened: bool = False,
    scale: float = 1.0,
    **_: Any,
) -> dict[str, Any]:
    """{"score", "format_ok", "n_constraints", "n_scored", "hard_pass_rate", "soft_rm_mean", "math_correct",
    "pass/<type id>" for every registered type}; a row with nothing scorable scores 0."""
    scorer = soft_scorer if soft_scorer is not None else (_load_scorer(rm_path) if rm_path else None)
    result = breakdown(
        _row(data_source, ground_truth, extra_info),
        solution_str or "",
        soft_scorer=scorer,
        aggregate=aggregate,
        hard_mode=hard_mode,
        loose=hard_mode == LOOSE,
        think_opened=think_opened,
    )
    nan = math.nan
    per_type: dict[str, list[float]] = {}
    for r in result.results:
        if r.scored and result.format_ok:
            per_type.setdefault(r.id, []).append(float(r.score) if r.kind == "soft" else float(bool(r.passed)))
    hard = [float(bool(r.passed)) for r in result.results if r.kind == "hard" and r.scored and result.format_ok]
    soft = [float(r.score) for r in result.results if r.kind == "soft" and r.scored and result.format_ok]
    out: dict[str, Any] = {
        "score": scale * (result.reward if result.reward is not None else 0.0),
        "format_ok": float(result.format_ok),
        "n_constraints": float(len(result.results)),
        "n_scored": float(result.n_scored),
        "hard_pass_rate": sum(hard) / len(hard) if hard else nan,
        "soft_rm_mean": sum(soft) / len(soft) if soft else nan,
        "math_correct": float(result.math.correct) if result.math is not None else nan,
    }
    for type_id in _type_ids():
        values = per_type.get(type_id)
        out[f"pass/{type_id}"] = sum(values) / len(values) if values else nan
    return out
