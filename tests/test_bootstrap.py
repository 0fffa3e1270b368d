"""Bootstrap intervals: seeded, correctly centred, right width, and they cover the truth about 95 % of the time."""

from __future__ import annotations

import math
import random

import pytest

from evals.bootstrap import bootstrap_mean, bootstrap_paired_delta, bootstrap_ratio


def test_same_seed_same_interval_and_other_seed_differs() -> None:
    rng = random.Random(1)
    values = [rng.random() for _ in range(50)]
    a = bootstrap_mean(values, seed=3)
    b = bootstrap_mean(values, seed=3)
    c = bootstrap_mean(values, seed=4)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.value == pytest.approx(sum(values) / len(values))
    assert a.low < a.value < a.high
    assert a.n == 50


def test_width_matches_normal_approximation_for_a_proportion() -> None:
    values = [1.0] * 150 + [0.0] * 150
    interval = bootstrap_mean(values, n_resamples=2000, seed=0)
    expected_half_width = 1.96 * math.sqrt(0.25 / 300)
    assert (interval.high - interval.low) / 2 == pytest.approx(expected_half_width, rel=0.15)


def test_constant_values_give_a_zero_width_interval() -> None:
    interval = bootstrap_mean([1.0] * 20)
    assert interval.low == interval.high == interval.value == 1.0


def test_coverage_is_close_to_95_percent() -> None:
    rng = random.Random(0)
    p, n, trials = 0.3, 120, 200
    covered = 0
    for t in range(trials):
        sample = [1.0 if rng.random() < p else 0.0 for _ in range(n)]
        covered += bootstrap_mean(sample, n_resamples=400, seed=t).contains(p)
    assert 0.88 <= covered / trials <= 0.99


def test_ratio_resamples_units_not_instructions() -> None:
    # Prompt 0 has 3 instructions all passed, the other 9 prompts 1 instruction each, all failed.
    num = [3.0] + [0.0] * 9
    den = [3.0] + [1.0] * 9
    interval = bootstrap_ratio(num, den, seed=0)
    assert interval.value == pytest.approx(3 / 12)
    assert interval.low == 0.0  # resamples that miss prompt 0 exist
    assert interval.high > 0.4
    with pytest.raises(ValueError):
        bootstrap_ratio([0.0], [0.0])
    with pytest.raises(ValueError):
        bootstrap_ratio([1.0], [1.0, 2.0])


def test_ratio_equals_mean_when_every_unit_has_one_instruction() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert bootstrap_ratio(values, [1.0] * 7, seed=5) == bootstrap_mean(values, seed=5)


def test_paired_delta_is_tighter_than_unpaired_when_units_correlate() -> None:
    rng = random.Random(2)
    base = [rng.random() for _ in range(200)]
    treated = [b + 0.05 + rng.gauss(0, 0.01) for b in base]
    delta = bootstrap_paired_delta(treated, base, seed=0)
    assert delta.value == pytest.approx(0.05, abs=0.005)
    assert delta.low > 0.0
    width_unpaired = (bootstrap_mean(treated).high - bootstrap_mean(treated).low) * math.sqrt(2)
    assert delta.high - delta.low < width_unpaired / 5


def test_empty_input_is_refused() -> None:
    with pytest.raises(ValueError):
        bootstrap_mean([])
