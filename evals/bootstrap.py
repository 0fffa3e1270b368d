"""Seeded percentile-bootstrap 95 % intervals for eval metrics (means, ratios of sums, paired deltas).

Resampling is over prompts (the unit IFEval samples), so instruction-level accuracy resamples whole prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval; `n` is the number of resampled units."""

    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


def _indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    if n <= 0:
        raise ValueError("bootstrap needs at least one value")
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_resamples, n))


def _interval(value: float, stats: np.ndarray, confidence: float, n: int) -> Interval:
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    # Percentiles of a degenerate sample can land a hair off the point estimate; keep value inside.
    return Interval(float(value), float(min(low, value)), float(max(high, value)), n)


def bootstrap_mean(
    values: Sequence[float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """Mean of `values` with a percentile bootstrap interval (same seed -> same interval)."""
    data = np.asarray(values, dtype=float)
    idx = _indices(len(data), n_resamples, seed)
    return _interval(data.mean(), data[idx].mean(axis=1), confidence, len(data))


def bootstrap_ratio(
    numerators: Sequence[float],
    denominators: Sequence[float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """sum(numerators) / sum(denominators), resampling units (e.g. prompts: passed / instructions)."""
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if num.shape != den.shape:
        raise ValueError("numerators and denominators must have the same length")
    if den.sum() <= 0:
        raise ValueError("denominators must sum to more than 0")
    idx = _indices(len(num), n_resamples, seed)
    den_b = den[idx].sum(axis=1)
    # A resample may draw only zero-denominator units; those carry no information, so drop them.
    ok = den_b > 0
    stats = num[idx].sum(axis=1)[ok] / den_b[ok]
    return _interval(num.sum() / den.sum(), stats, confidence, len(num))


def bootstrap_paired_delta(
    treatment: Sequence[float],
    baseline: Sequence[float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """mean(treatment) - mean(baseline) on the same units, resampled jointly (tighter than two intervals)."""
    a = np.asarray(treatment, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired samples must have the same length")
    diff = a - b
    idx = _indices(len(diff), n_resamples, seed)
    return _interval(diff.mean(), diff[idx].mean(axis=1), confidence, len(diff))
