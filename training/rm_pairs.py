"""Self-supervised RM pairs (o_k, c_k, 1) / (o_{k-1}, c_k, 0) from curriculum groups, and their metrics (AUC)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pair:
    """One classifier example: does `response` adhere to constraint c_k (`constraint` is its text)?"""

    response: str
    constraint: str
    label: int  # 1: written with c_k in the prompt (o_k); 0: written without it (o_{k-1})
    type_id: str
    kind: str  # "hard" | "soft"
    group_id: Hashable
    level: int  # k
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def group_rows(rows: Sequence[Mapping[str, Any]]) -> dict[Hashable, dict[int, Mapping[str, Any]]]:
    """Curriculum rows (those with constraints) by group id, then by level."""
    groups: dict[Hashable, dict[int, Mapping[str, Any]]] = defaultdict(dict)
    for row in rows:
        if row.get("instruction_id_list") and row.get("group_id") is not None:
            groups[row["group_id"]][int(row["level"])] = row
    return dict(groups)


def usable_levels(levels: Mapping[int, Mapping[str, Any]]) -> list[int]:
    """Levels 1..k present without a gap: only those give (o_k, o_{k-1}) pairs."""
    out = []
    k = 1
    while k in levels:
        out.append(k)
        k += 1
    return out


def newest_constraint(row: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    """(type id, text, kwargs) of c_k: the last constraint of a level-k row."""
    kwargs_list = row.get("kwargs") or [{}] * len(row["instruction_id_list"])
    kwargs = {k: v for k, v in (kwargs_list[-1] or {}).items() if v is not None}
    return row["instruction_id_list"][-1], row["constraints"][-1], kwargs


def build_pairs(
    groups: Mapping[Hashable, Mapping[int, Mapping[str, Any]]],
    responses: Mapping[tuple[Hashable, int], str | None],
    kind_of: Callable[[str], str],
) -> list[Pair]:
    """Both pairs for every c_k whose o_k and o_{k-1} exist (level 0 = the bare task's response).

    A missing response (None: unclosed think, empty) drops its pairs; identical o_k and o_{k-1} would carry
    contradictory labels for the same input, so those are dropped too.
    """
    pairs: list[Pair] = []
    for group_id, levels in groups.items():
        for k in usable_levels(levels):
            pos = responses.get((group_id, k))
            neg = responses.get((group_id, k - 1))
            if not pos or not neg or pos.strip() == neg.strip():
                continue
            type_id, text, kwargs = newest_constraint(levels[k])
            kind = kind_of(type_id)
            common = dict(constraint=text, type_id=type_id, kind=kind, group_id=group_id, level=k, kwargs=kwargs)
            pairs.append(Pair(response=pos, label=1, **common))
            pairs.append(Pair(response=neg, label=0, **common))
    return pairs


def split_by_group(pairs: Sequence[Pair], held_out_fraction: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Hold out whole groups until >= held_out_fraction of pairs: o_k appears in two pairs of its group,
    so a per-pair split would leak responses into the held-out set."""
    groups = sorted({p.group_id for p in pairs}, key=str)
    if len(groups) < 2:
        shuffled = list(pairs)
        random.Random(seed).shuffle(shuffled)
        n_held = max(1, round(len(shuffled) * held_out_fraction)) if len(shuffled) > 1 else 0
        return shuffled[n_held:], shuffled[:n_held]
    random.Random(seed).shuffle(groups)
    size = defaultdict(int)
    for p in pairs:
        size[p.group_id] += 1
    held: set[Hashable] = set()
    target = held_out_fraction * len(pairs)
    for g in groups:
        if sum(size[h] for h in held) >= target or len(held) == len(groups) - 1:
            break
        held.add(g)
    return [p for p in pairs if p.group_id not in held], [p for p in pairs if p.group_id in held]


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve = P(score of a random positive > a random negative), ties count 1/2.

    Computed with mid-ranks (Mann-Whitney U) in O(n log n); None when a class is missing.
    """
    n_pos = sum(1 for y in labels if y == 1)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid_rank = (i + j) / 2 + 1  # 1-based average rank of the tie block
        for t in range(i, j + 1):
            ranks[order[t]] = mid_rank
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y == 1)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def accuracy(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> float | None:
    if not labels:
        return None
    return sum(int(s >= threshold) == y for y, s in zip(labels, scores, strict=True)) / len(labels)


def steps_bound(
    groups: Mapping[Hashable, Mapping[int, Mapping[str, Any]]],
    prompts: Mapping[tuple[Hashable, int], str],
    batch_size: int,
    epochs: int,
    kind_of: Callable[[str], str],
) -> int:
    """The most optimizer steps RM training can take, known before any response exists (a fixed progress
    total): every soft c_k among the chosen (group, level) prompts gives at most two pairs."""
    soft = sum(1 for gid, k in prompts if k > 0 and kind_of(groups[gid][k]["instruction_id_list"][-1]) == "soft")
    return max(1, (2 * soft + batch_size - 1) // batch_size * epochs)


def pair_samples(held_out: list[Pair], scores: list[float]) -> list[dict[str, Any]]:
    """The held-out pairs with the RM's P(adheres), as sample rows for the reward-model inspector."""
    out = []
    for pair, p in zip(held_out, scores, strict=True):
        meta = {
            "kind": "rm_pair", "label": pair.label, "type_id": pair.type_id, "level": pair.level,
            "group_id": str(pair.group_id), "correct": int(p >= 0.5) == pair.label,
        }  # fmt: skip
        out.append({"prompt": pair.constraint, "response": pair.response, "breakdown": {}, "reward": p, "meta": meta})
    return out
