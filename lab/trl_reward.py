"""The breakdown as a TRL 1.16 reward function `f(prompts, completions, **columns) -> list[float | None]`.

Dataset columns arrive as keyword lists; TRL's `log_metric`/`log_extra` receive per-type pass rates and breakdowns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lab.constraints.ifeval_modes import LOOSE, STRICT
from lab.reward import (
    THINK_CLOSE,
    THINK_OPEN,
    RewardBreakdown,
    SoftScorer,
    breakdown_batch,
    check_options,
)

RewardFunc = Callable[..., list[float | None]]
_NOT_COLUMNS = frozenset({"trainer_state", "log_extra", "log_metric", "environments", "completion_ids"})


def completion_text(completion: Any) -> str:
    """Plain text of a completion: a string, or the assistant messages of a conversational completion.

    A message's separately parsed reasoning ("reasoning_content" / "thinking") is put back as a closed
    think block, so the answer is still what follows `</think>`.
    """
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion or []:
        if not isinstance(message, Mapping):
            parts.append(str(message))
            continue
        content = message.get("content") or ""
        if isinstance(content, list):  # multimodal-style [{"type": "text", "text": ...}]
            content = "".join(c.get("text", "") for c in content if isinstance(c, Mapping))
        reasoning = message.get("reasoning_content") or message.get("thinking")
        if reasoning:
            content = f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{content}"
        parts.append(str(content))
    return "".join(parts)


def _prompt_opens_think(prompt: Any) -> bool:
    # A chat template that ends the prompt with "<think>" has opened the block for the model.
    return isinstance(prompt, str) and prompt.rstrip().endswith(THINK_OPEN)


def _rows(n: int, columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    keep = {k: v for k, v in columns.items() if k not in _NOT_COLUMNS and isinstance(v, list | tuple) and len(v) == n}
    return [{k: v[i] for k, v in keep.items()} for i in range(n)]


def _applies(row: Mapping[str, Any]) -> bool:
    ids = row.get("instruction_id_list")
    has_constraints = ids is not None and len(ids) > 0
    return has_constraints or (row.get("source") == "math" and row.get("answer") not in (None, ""))


def batch_metrics(breakdowns: Sequence[RewardBreakdown]) -> dict[str, float]:
    """Scalar metrics for one batch: per-type pass rates (soft: mean probability), RM mean, failures, math."""
    per_type: dict[str, list[float]] = defaultdict(list)
    hard: list[float] = []
    soft: list[float] = []
    math: list[float] = []
    for b in breakdowns:
        if b.math is not None:
            math.append(1.0 if b.math.correct else 0.0)
        if not b.format_ok:
            continue
        for r in b.results:
            if not r.scored:
                continue
            value = float(r.score) if r.kind == "soft" else (1.0 if r.passed else 0.0)
            per_type[r.id].append(value)
            (soft if r.kind == "soft" else hard).append(value)
    metrics = {f"constraints/{type_id}": sum(v) / len(v) for type_id, v in sorted(per_type.items())}
    if hard:
        metrics["constraints/hard_pass_rate"] = sum(hard) / len(hard)
    if soft:
        metrics["constraints/soft_rm_mean"] = sum(soft) / len(soft)
    if math:
        metrics["math/accuracy"] = sum(math) / len(math)
    if breakdowns:
        metrics["format/unclosed_think"] = sum(1 for b in breakdowns if not b.format_ok) / len(breakdowns)
    return metrics


def summary_line(b: RewardBreakdown) -> str:
    """A compact one-line breakdown for TRL's completions table."""
    if not b.format_ok:
        return "format failure: unclosed <think>"
    if b.math is not None:
        return f"math {'✓' if b.math.correct else '✗'} boxed={b.math.boxed!r} expected={b.math.expected}"
    marks = []
    for r in b.results:
        if not r.scored:
            marks.append(f"{r.id} ?")
        elif r.kind == "soft":
            marks.append(f"{r.id} {r.score:.2f}")
        else:
            marks.append(f"{r.id} {'✓' if r.passed else '✗'}")
    return " | ".join(marks)


def make_trl_reward(
    soft_scorer: SoftScorer | None = None,
    aggregate: str = "mean",
    weights: Sequence[float] | Mapping[str, float] | None = None,
    hard_mode: str = STRICT,
    think_opened: bool | None = None,
    name: str = "constraint_reward",
) -> RewardFunc:
    """A TRL reward function over curriculum/IFEval/math rows; returns None for rows it does not apply to.

    `think_opened=None` detects a `<think>` that the (plain-text) prompt itself opened.
    """
    check_options(aggregate, hard_mode)

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        rows = _rows(n, columns)
        texts = [completion_text(c) for c in completions]
        opened = [
            think_opened if think_opened is not None else _prompt_opens_think(p)
            for p in (prompts if len(prompts) == n else [None] * n)
        ]
        active = [i for i in range(n) if _applies(rows[i])]
        results: list[RewardBreakdown | None] = [None] * n
        for flag in (False, True):  # breakdown_batch takes one think setting per call
            idx = [i for i in active if opened[i] == flag]
            if idx:
                done = breakdown_batch(
                    [rows[i] for i in idx], [texts[i] for i in idx], soft_scorer, aggregate, weights,
                    hard_mode, loose=hard_mode == LOOSE, think_opened=flag,
                )  # fmt: skip
                for i, b in zip(idx, done, strict=True):
                    results[i] = b
        _log(columns, [b for b in results if b is not None], results)
        return [b.reward if b is not None else None for b in results]

    reward.__name__ = name
    reward.__qualname__ = name
    return reward


def _log(columns: Mapping[str, Any], done: list[RewardBreakdown], results: list[RewardBreakdown | None]) -> None:
    log_metric = columns.get("log_metric")
    if callable(log_metric):
        for metric, value in batch_metrics(done).items():
            log_metric(metric, value)
    log_extra = columns.get("log_extra")
    if callable(log_extra):
        log_extra("constraint_breakdown", [summary_line(b) if b is not None else "" for b in results])
