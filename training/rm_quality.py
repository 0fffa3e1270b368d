"""Is a self-supervised reward model worth using? Its held-out AUC with a bootstrap interval, read as a verdict the
app shows wherever a reward model is picked or used:

- "noise": the AUC interval includes 0.5: the RM cannot be told apart from chance, so the soft half of a GRPO
  reward adds noise (the README's cpu-30min runs: AUC 0.50 on 12 pairs); consider a hard-only reward;
- "weak": above chance, but AUC under 0.75 (the paper's RMs separate their pairs far better);
- "informative": AUC interval above 0.5 and AUC at least 0.75.

The interval is a stratified bootstrap (positives and negatives resampled apart, seeded), so the same scores give
the same interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INFORMATIVE_AUC = 0.75
CHANCE = 0.5
RESAMPLES = 2000
MAX_PER_CLASS = 2000
NOISE, WEAK, INFORMATIVE, UNKNOWN = "noise", "weak", "informative", "unknown"


def auc_interval(
    labels: Sequence[int], scores: Sequence[float], resamples: int = RESAMPLES, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float] | None:
    """95 % percentile interval of the ROC AUC (ties count 1/2); None when a class is missing."""
    import numpy as np

    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return None
    # wins[i, j]: positive i against negative j. A resample draws each item a count (multinomial), and its AUC is
    # the count-weighted mean of wins: one matrix product for all resamples, not a copied block per resample.
    rng = np.random.default_rng(seed)
    # Past MAX_PER_CLASS per class a seeded subsample stands in (the interval is then a little wide), so memory
    # stays bounded (a 2,000 x 2,000 float32 matrix) whatever a user's seed file makes of the held-out set.
    pos = pos if len(pos) <= MAX_PER_CLASS else rng.choice(pos, MAX_PER_CLASS, replace=False)
    neg = neg if len(neg) <= MAX_PER_CLASS else rng.choice(neg, MAX_PER_CLASS, replace=False)
    wins = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).astype(np.float32)
    pos_counts = rng.multinomial(len(pos), np.full(len(pos), 1 / len(pos)), size=resamples).astype(np.float32)
    neg_counts = rng.multinomial(len(neg), np.full(len(neg), 1 / len(neg)), size=resamples).astype(np.float32)
    stats = ((pos_counts @ wins) * neg_counts).sum(axis=1, dtype=np.float64) / (len(pos) * len(neg))
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(low), float(high)


def auc_metrics(key: str, labels: Sequence[int], scores: Sequence[float]) -> dict[str, float]:
    """{key: AUC, key_low, key_high} (the stored form of an AUC and its interval); {} when a class is missing."""
    from training.rm_pairs import roc_auc

    auc = roc_auc(labels, scores)
    if auc is None:
        return {}
    low, high = auc_interval(labels, scores) or (auc, auc)
    return {key: auc, f"{key}_low": low, f"{key}_high": high}


@dataclass(frozen=True)
class RMVerdict:
    level: str  # noise | weak | informative | unknown
    text: str  # one line for menus, badges and warnings

    @property
    def adds_noise(self) -> bool:
        return self.level == NOISE


def rm_verdict(metrics: Mapping[str, Any]) -> RMVerdict:
    """The verdict from an RM's stored held-out metrics (checkpoint meta, or rm_info's metrics with "rm/" keys)."""
    values = {str(k).removeprefix("rm/"): v for k, v in metrics.items()}
    auc, low, high = values.get("held_out_auc"), values.get("held_out_auc_low"), values.get("held_out_auc_high")
    n = values.get("held_out_pairs")
    acc = values.get("held_out_accuracy")
    if auc is None:
        if acc is None:
            return RMVerdict(UNKNOWN, "unknown: this reward model stored no held-out quality.")
        return RMVerdict(UNKNOWN, f"unknown: held-out accuracy {acc:.2f}, no AUC stored.")
    on = f" on {int(n)} held-out pairs" if n else ""
    if low is None or high is None:
        measured = f"AUC {auc:.2f}{on} (no interval stored)"
        chance = auc < 0.6
    else:
        measured = f"AUC {auc:.2f} [{low:.2f}, {high:.2f}]{on}"
        chance = low <= CHANCE
    why = label_signal_note(values) + control_note(values)
    if chance:
        return RMVerdict(
            NOISE,
            f"noise: {measured}, no better than chance; the soft reward will add noise, consider hard-only "
            f"(leave grpo.reward_model empty).{why}",
        )
    if auc < INFORMATIVE_AUC:
        return RMVerdict(WEAK, f"weak: {measured}; above chance, but the soft reward is noisy.{why}")
    return RMVerdict(INFORMATIVE, f"informative: {measured}.{control_note(values)}")


WEAK_LABELS = 0.15  # o_k satisfies c_k less than 15 points more often than o_{k-1}: mostly mislabelled pairs


def label_signal_note(values: Mapping[str, Any]) -> str:
    """Why, when the pairs themselves carry little signal (the hard-twin control of the RM job), else ''."""
    gap, low, high = values.get("label_signal"), values.get("label_signal_low"), values.get("label_signal_high")
    if gap is None or low is None or high is None or high >= WEAK_LABELS:
        return ""
    return (
        f" The policy's own labels carry little signal: on the hard twins of its pairs, the answer written with a "
        f"constraint satisfies it only {100 * gap:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] points more often than "
        "the answer written without it."
    )


def control_note(values: Mapping[str, Any]) -> str:
    """One sentence on the controls for the RM verdict (values without the rm/ prefix), or ''."""
    ceiling = _auc_text(values, "verifier")
    if not ceiling:
        return ""
    own = _auc_text(values, "self")
    n, m = int(values.get("control_train_pairs") or 0), int(values.get("control_held_out_pairs") or 0)
    text = (
        f" Control ({n} hard-constraint examples, judged by the verifier on {m} held out): trained on the verifier's "
        f"labels, this classifier reaches AUC {ceiling}"
    )
    return text + (f"; on the policy's own labels, {own}." if own else ".")


def _auc_text(values: Mapping[str, Any], source: str) -> str:
    key = f"control_{source}_auc"
    auc, low, high = values.get(key), values.get(f"{key}_low"), values.get(f"{key}_high")
    if not isinstance(auc, int | float):
        return ""
    if isinstance(low, int | float) and isinstance(high, int | float):
        return f"{auc:.2f} [{low:.2f}, {high:.2f}]"
    return f"{auc:.2f}"


def verdict_for_folder(folder: str | Path) -> RMVerdict:
    """The verdict of a reward-model checkpoint folder, from its rm_info.json (LabError if it is not one)."""
    from lab.rm_scorer import read_rm_info

    return rm_verdict(read_rm_info(folder).get("metrics") or {})


def launch_warnings(kind: str, config: Mapping[str, Any]) -> list[str]:
    """What to tell the user when a job is queued: a GRPO job whose stored reward model is noise. A reward model
    that a pipeline has yet to train is judged when the GRPO stage starts (its log says it)."""
    reference = str(config.get("reward_model") or "").strip()
    if kind != "grpo" or not reference:
        return []
    from lab.errors import LabError
    from storage.refs import resolve_checkpoint

    try:
        folder = resolve_checkpoint(reference, "reward_model")
    except LabError:  # not trained yet (a pipeline's RM stage): judged when the GRPO stage starts
        return []
    try:
        verdict = verdict_for_folder(folder)
    except Exception:  # advisory only: the job is already queued, so an unreadable rm_info.json must not fail it
        return []
    return [f"reward model {reference}: {verdict.text}"] if verdict.adds_noise else []
