"""Runs tab, overlay: the curves of several ticked runs on one chart (metric picker, x = step or wall time,
smoothing) and the config fields where those runs differ. Reads thinned curves, so cost is O(points shown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.metrics import metric_names, timed_series
from storage.runs import get_run
from training.run_admin import config_diff  # noqa: F401  (the Runs screen's diff: ov.config_diff)
from ui.charts import PALETTE, integer_steps, smooth

MAX_POINTS = 800
X_AXES = ("step", "wall time (min)")
# The metrics people compare first, in this order; every other stored name follows.
PREFERRED = (
    "reward",
    "constraints/hard_pass_rate",
    "constraints/soft_rm_mean",
    "kl",
    "entropy",
    "completions/mean_length",
    "rm/held_out_accuracy",
    "rm/held_out_auc",
    "rm/batch_accuracy",
    "rm/loss",
)


def metric_choices(run_ids: Sequence[int]) -> list[str]:
    """Metric names stored by any of the runs: the usual ones first, then per-type pass rates, then the rest."""
    names: set[str] = set()
    for run_id in run_ids:
        names.update(metric_names(int(run_id)))
    first = [n for n in PREFERRED if n in names]
    per_type = sorted(n for n in names if n.startswith("constraints/") and n not in first)
    rest = sorted(names - set(first) - set(per_type))
    return first + per_type + rest


def default_metric(choices: Sequence[str], current: str | None) -> str | None:
    if current in choices:
        return current
    return choices[0] if choices else None


def overlay_figure(run_ids: Sequence[int], metric: str, x_axis: str, smoothing: float) -> Any | None:
    """One line per run for `metric`; None when no ticked run logged it."""
    import plotly.graph_objects as go

    fig = go.Figure()
    wall = x_axis == X_AXES[1]
    drawn = 0
    for i, run_id in enumerate(run_ids):
        series = timed_series(int(run_id), metric, max_points=MAX_POINTS)
        if series is None:
            continue
        run = get_run(int(run_id))
        if wall:
            x = [(t - series.logged_at[0]) / 60 for t in series.logged_at]
        else:
            x = list(series.steps)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=smooth(list(series.values), smoothing),
                name=f"run {run.id} · {run.name}"[:60],
                mode="lines+markers" if len(x) <= 60 else "lines",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
        drawn += 1
    if not drawn:
        return None
    fig.update_layout(
        title=f"{metric} across {drawn} run(s)",
        template="plotly_white",
        height=380,
        margin={"l": 50, "r": 10, "t": 40, "b": 10},
        xaxis={"title": {"text": x_axis, "standoff": 4}},
        legend={"font": {"size": 10}, "orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        showlegend=True,
    )
    if not wall:
        integer_steps(fig)
    return fig
