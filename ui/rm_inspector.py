"""Reward-model inspector: the RM run's held-out pairs with its P(adheres), misclassified first, and accuracy /
AUC per soft type; plus the one-line quality note shown wherever a reward model is picked."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from storage.samples import SampleRecord, list_samples
from training.rm_pairs import accuracy, roc_auc
from training.rm_quality import auc_interval, rm_verdict

PAIR_HEADERS = ["verdict", "type", "label", "P(adheres)", "constraint", "response"]
TYPE_HEADERS = ["soft type", "pairs", "accuracy", "AUC", "AUC 95 % interval"]
MAX_PAIRS = 5000


def held_out_pairs(run_id: int) -> list[SampleRecord]:
    return [
        s
        for s in list_samples(int(run_id), limit=MAX_PAIRS)
        if s.meta.get("kind") == "rm_pair" and s.reward is not None
    ]


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _span(labels: list[int], scores: list[float]) -> str:
    got = auc_interval(labels, scores)
    return "—" if got is None else f"[{got[0]:.2f}, {got[1]:.2f}]"


def inspect(run_id: int) -> dict[str, Any]:
    """{summary, types, pairs}: per-type accuracy / AUC (overall first) and the pairs, misclassified first."""
    pairs = held_out_pairs(run_id)
    if not pairs:
        return {
            "summary": f"Run {run_id} stored no held-out pairs: they are stored when its reward-model job finishes "
            "(runs made before this version stored only the totals; see Latest metrics).",
            "types": [],
            "pairs": [],
        }
    by_type: dict[str, list[SampleRecord]] = defaultdict(list)
    for p in pairs:
        by_type[str(p.meta.get("type_id"))].append(p)
    labels = [int(p.meta["label"]) for p in pairs]
    scores = [float(p.reward) for p in pairs]
    overall_auc = roc_auc(labels, scores)
    types = [["all", len(pairs), _fmt(accuracy(labels, scores)), _fmt(overall_auc), _span(labels, scores)]]
    for type_id, members in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
        y = [int(p.meta["label"]) for p in members]
        s = [float(p.reward) for p in members]
        types.append([type_id, len(members), _fmt(accuracy(y, s)), _fmt(roc_auc(y, s)), _span(y, s)])
    ordered = sorted(pairs, key=lambda p: (bool(p.meta.get("correct")), -abs(float(p.reward) - 0.5)))
    rows = [
        [
            "right" if p.meta.get("correct") else "WRONG",
            p.meta.get("type_id"),
            "with c (1)" if int(p.meta["label"]) else "without c (0)",
            f"{float(p.reward):.3f}",
            p.prompt,
            p.response,
        ]
        for p in ordered
    ]
    wrong = sum(1 for p in pairs if not p.meta.get("correct"))
    low, high = auc_interval(labels, scores) or (None, None)
    verdict = rm_verdict({"held_out_auc": overall_auc, "held_out_auc_low": low, "held_out_auc_high": high})
    summary = f"{len(pairs)} held-out pairs, {wrong} misclassified (listed first). Quality: {verdict.text}"
    return {"summary": summary, "types": types, "pairs": rows}


def quality_note(checkpoint_path: str) -> str:
    """'Noise: AUC 0.50 [0.25, 0.75] on 12 held-out pairs, ...' for a reward-model folder."""
    if not checkpoint_path:
        return "No reward model: soft constraints are not scored."
    from storage.checkpoints import list_checkpoints

    for checkpoint in list_checkpoints():
        if checkpoint.path == checkpoint_path:
            return quality_line(checkpoint.meta)
    return "Reward model outside this lab's runs: its held-out quality is unknown."


def quality_line(meta: dict[str, Any]) -> str:
    """The reward model's verdict (noise / weak / informative) with the numbers behind it, in one line."""
    text = rm_verdict(meta).text
    return text[0].upper() + text[1:]
