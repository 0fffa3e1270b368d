"""Thinned metric curves come from SQL with one key seek per kept point: at most max_points, first and last
always, close to the old read-everything-then-every-k-th-row thinning; the Runs headline reads one row."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from lab.paths import database_path
from storage import jobs, metrics, outputs
from ui import run_table as rt


def _curve(run_id: int, steps: range | list[int], name: str = "loss") -> None:
    rows = [r for s in steps for r in metrics.metric_rows(run_id, s, {name: math.sin(s / 500) + s / 1e4})]
    outputs.write_job_output(run_id, rows)


def _old_thinning(steps: tuple[int, ...], max_points: int) -> list[int]:
    """What metric_series did before: read every row, keep every k-th and the last."""
    keep = list(range(0, len(steps), math.ceil(len(steps) / max_points)))
    if keep[-1] != len(steps) - 1:
        keep.append(len(steps) - 1)
    return [steps[i] for i in keep]


@pytest.fixture
def run_id(db: Path) -> int:
    return jobs.create_job("grpo", {}).run_id


def test_a_30k_point_curve_thins_to_max_points_close_to_the_old_way(run_id: int) -> None:
    _curve(run_id, range(1, 30_001))
    full = metrics.metric_series(run_id)["loss"]
    thin = metrics.metric_series(run_id, max_points=1000)["loss"]
    assert len(thin.steps) <= 1000 and thin.steps[0] == 1 and thin.steps[-1] == 30_000
    assert list(thin.steps) == sorted(set(thin.steps))
    stored = dict(zip(full.steps, full.values, strict=True))
    assert list(thin.values) == [stored[s] for s in thin.steps]
    old = _old_thinning(full.steps, 1000)
    assert abs(len(old) - len(thin.steps)) <= 1
    stride = math.ceil(len(full.steps) / 1000)
    # Evenly spaced targets drift from the old k-th rows by less than one stride anywhere on the curve.
    assert all(min(abs(s - o) for o in old[max(0, i - 2) : i + 3]) < stride for i, s in enumerate(thin.steps))


def test_sparse_and_live_curves(run_id: int) -> None:
    steps = [s for s in range(0, 100_000, 7) if s % 13]  # gaps of uneven width
    _curve(run_id, steps)
    thin = metrics.metric_series(run_id, ["loss"], max_points=300)["loss"]
    assert len(thin.steps) <= 300 and (thin.steps[0], thin.steps[-1]) == (steps[0], steps[-1])
    assert set(thin.steps) <= set(steps)
    live = metrics.metric_series(run_id, ["loss"], since_step=steps[-40], max_points=10)["loss"]
    assert len(live.steps) <= 10 and live.steps[0] == steps[-39] and live.steps[-1] == steps[-1]
    assert metrics.metric_series(run_id, ["loss"], since_step=steps[-5], max_points=10)["loss"].steps == tuple(
        steps[-4:]
    )
    assert metrics.metric_series(run_id, ["loss"], max_points=1)["loss"].steps == (steps[-1],)
    assert metrics.metric_series(run_id, ["nope"], max_points=10) == {}


def _vm_steps(run_id: int, max_points: int) -> int:
    """SQLite virtual-machine instructions (in units of 100) for one thinned read: a measure of rows visited."""
    calls = 0

    def count() -> int:
        nonlocal calls
        calls += 1
        return 0

    conn = sqlite3.connect(database_path())
    try:
        conn.set_progress_handler(count, 100)
        first, last = conn.execute(metrics._BOUNDS_SQL, (run_id, "loss", -1)).fetchone()
        conn.execute(metrics._THINNED_SQL, (run_id, "loss", first, last, max_points)).fetchall()
    finally:
        conn.close()
    return calls


def test_a_thinned_read_costs_the_same_for_a_10x_longer_curve(db: Path) -> None:
    short, long = jobs.create_job("grpo", {}).run_id, jobs.create_job("grpo", {}).run_id
    _curve(short, range(1, 10_001))
    _curve(long, range(1, 100_001))
    assert _vm_steps(long, 500) < 1.5 * _vm_steps(short, 500)


def test_the_runs_headline_reads_the_latest_value_only(run_id: int, monkeypatch) -> None:
    _curve(run_id, range(1, 2_001), name="reward")
    monkeypatch.setattr(rt, "metric_series", lambda *a, **k: pytest.fail("the headline read a whole curve"))
    text, value = rt.headline(rt.get_run(run_id))
    assert text == f"reward {value:.3f} @ step 2000"
    assert metrics.latest_value(run_id, "reward") == (2000, value)
