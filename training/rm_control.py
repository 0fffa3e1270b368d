"""The reward-model job's control classifiers (issue 14, part 2): do the soft RM's poor numbers mean "this classifier
cannot learn constraints" or "the policy's own labels carry no signal"? Hard constraints answer it, because a verifier
knows the truth. On the hard twins of the pairs (o_k with c_k vs o_{k-1}, built exactly like the soft ones), the same
classifier, with the same settings, is trained twice from the same initialisation:

- on the **verifier's labels**: how well it can learn constraint adherence at all (the learnable ceiling);
- on the **self-supervised labels** (o_k = 1, o_{k-1} = 0): what the paper's labelling gives where truth is known.

Both are judged against the verifier on held-out hard twins (whole groups apart from the training ones), as AUC with a
bootstrap interval. A high ceiling with a low self-labelled AUC says the labels are the problem, not the learner.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from training.rm_pairs import Pair, split_by_group
from training.rm_quality import auc_metrics

if TYPE_CHECKING:
    from training.registry import JobContext
    from training.reward_model_job import RewardModelConfig

LABELS = ("verifier", "self")  # the two label sources, in training order


def control_steps(n_train: int, batch_size: int, epochs: int) -> int:
    """Optimizer steps both control classifiers take together on `n_train` examples (a progress budget)."""
    return len(LABELS) * ((n_train + batch_size - 1) // batch_size) * epochs


def control_split(
    hard: Sequence[Pair], n_train: int, held_out_fraction: float, seed: int
) -> tuple[list[Pair], list[Pair]]:
    """Hard twins split by whole groups; at most `n_train` training examples, drawn as whole twins."""
    from training.reward_model_job import sample_whole_pairs

    train, held_out = split_by_group(hard, held_out_fraction, seed)
    return sample_whole_pairs(train, n_train, seed), held_out


def run_controls(
    config: RewardModelConfig,
    ctx: JobContext,
    hard: Sequence[Pair],
    truth_of: Callable[[Pair], int],
    step0: int,
    total: int,
) -> dict[str, float] | None:
    """Train and judge both control classifiers; their metrics (rm/control_*), or None when stopped."""
    from lab.rm_scorer import RewardModelScorer, RMTemplate
    from training.reward_model_job import load_classifier, train_classifier

    train, held_out = control_split(hard, config.control_pairs, config.held_out_fraction, config.seed)
    held_truth = [truth_of(p) for p in held_out]
    metrics: dict[str, float] = {
        "rm/control_train_pairs": float(len(train)),
        "rm/control_held_out_pairs": float(len(held_out)),
    }
    if held_truth:
        metrics["rm/control_held_out_pass_rate"] = sum(held_truth) / len(held_truth)
    if not train or len(set(held_truth)) < 2:
        return metrics  # nothing to train on, or no AUC to judge by: the counts say why
    span = control_steps(len(train), config.batch_size, config.epochs) // len(LABELS)
    for i, source in enumerate(LABELS):
        labelled = [dataclasses.replace(p, label=truth_of(p)) if source == "verifier" else p for p in train]
        model, tokenizer = load_classifier(config)
        _, stopped = train_classifier(
            model, tokenizer, labelled, config, ctx, step0 + i * span, total, span, prefix=f"rm_control_{source}"
        )
        if stopped:
            return None
        ctx.progress(step0 + (i + 1) * span, total, f"judging the {source}-labelled control against the verifier")
        scorer = RewardModelScorer(model, tokenizer, RMTemplate(max_length=config.max_length), batch_size=16)
        metrics.update(judge(source, scorer.score([(p.response, p.constraint) for p in held_out]), held_truth))
        del model, scorer  # one classifier and its optimizer state in memory at a time
        gc.collect()
    return metrics


def judge(source: str, scores: Sequence[float], truth: Sequence[int]) -> dict[str, float]:
    """AUC (with its interval) of one control's scores against the verifier's verdicts."""
    return auc_metrics(f"rm/control_{source}_auc", truth, scores)
