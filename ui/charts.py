"""Live training charts drawn from stored metrics: reward, per-type pass rates, KL, length, RM accuracy.

Each chart reads the run that logs its curves (GRPO curves from the GRPO run, RM accuracy from the RM run the
pipeline linked), so one screen follows a whole dataset → RM → GRPO pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from storage.metrics import MetricSeries, metric_names, metric_series
from storage.models import ACTIVE_STATUSES

MAX_POINTS = 600  # per curve; storage thins longer curves evenly and keeps the newest point
AGGREGATE_TYPES = frozenset({"constraints/hard_pass_rate", "constraints/soft_rm_mean"})
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    kind: str  # the job kind whose run logs these curves
    names: tuple[str, ...]  # exact metric names ("" = pick by prefix)
    prefix: str = ""
    y_title: str = ""
    empty: str = "waiting for the first logged step"


CHARTS = (
    ChartSpec(
        "reward",
        "Reward",
        "grpo",
        ("reward", "constraints/hard_pass_rate", "constraints/soft_rm_mean", "math/accuracy"),
        y_title="mean per step",  # a longer title ran into the chart's title
    ),
    ChartSpec("pass_rates", "Pass rate per constraint type", "grpo", (), prefix="constraints/", y_title="pass rate"),
    ChartSpec(
        "kl",
        "KL to the reference and entropy",
        "grpo",
        ("kl", "entropy"),
        empty="KL is logged only with beta > 0; entropy with the first step",
    ),
    ChartSpec(
        "length",
        "Completion length (tokens)",
        "grpo",
        ("completions/mean_length", "completions/min_length", "completions/max_length"),
        y_title="tokens",
    ),
    ChartSpec(
        "rm",
        "Reward model: accuracy and loss",
        "reward_model",
        ("rm/batch_accuracy", "rm/held_out_accuracy", "rm/held_out_auc", "rm/hard_agreement", "rm/loss"),
        empty="its curves appear once it starts training the classifier (after generating responses)",
    ),
)


def _names(spec: ChartSpec, run_id: int) -> list[str]:
    if not spec.prefix:
        return list(spec.names)
    return [n for n in metric_names(run_id) if n.startswith(spec.prefix) and n not in AGGREGATE_TYPES]


def chart_series(spec: ChartSpec, run_id: int | None) -> dict[str, MetricSeries]:
    if run_id is None:
        return {}
    return metric_series(run_id, _names(spec, run_id), max_points=MAX_POINTS)


def integer_steps(fig: Any) -> None:
    """Steps are whole numbers: a short run gets one tick per step, a long one plain integer ticks (never 2.5)."""
    xs = [x for trace in fig.data for x in (trace.x or ())]
    span = (max(xs) - min(xs)) if xs else 0
    if span <= 12:
        fig.update_xaxes(tickmode="linear", dtick=1, tickformat="d")
    else:
        fig.update_xaxes(tickformat="d")


def smooth(values: list[float | None], weight: float) -> list[float | None]:
    """TensorBoard-style exponential moving average (None gaps pass through)."""
    if weight <= 0:
        return values
    out, last = [], None
    for v in values:
        if v is None:
            out.append(None)
            continue
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return out


def figure(spec: ChartSpec, series: Mapping[str, MetricSeries], smoothing: float = 0.0) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, (name, s) in enumerate(series.items()):
        label = name.removeprefix(spec.prefix) if spec.prefix else name
        many = len(s.steps) > 1
        fig.add_trace(
            go.Scatter(
                x=list(s.steps),
                y=smooth(list(s.values), smoothing),
                name=label,
                mode="lines+markers" if len(s.steps) <= 60 else "lines",
                line={"color": PALETTE[i % len(PALETTE)]},
                marker={"size": 5 if many else 9},
            )
        )
    if not series:
        fig.add_annotation(text=spec.empty, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        title=spec.title,
        template="plotly_white",
        height=340,
        margin={"l": 50, "r": 10, "t": 40, "b": 10},
        xaxis={"title": {"text": "step", "standoff": 4}},
        yaxis_title=spec.y_title,
        legend={"font": {"size": 10}, "orientation": "h", "yanchor": "top", "y": -0.32, "x": 0},
        showlegend=True,  # a chart with one curve still names it (plotly hides a lone trace's legend)
        uirevision=spec.key,  # keep the user's zoom across refreshes
    )
    integer_steps(fig)
    return fig


def empty_reason(spec: ChartSpec, runs_by_kind: Mapping[str, int], status_of: Mapping[int, str]) -> str:
    """Why a chart has nothing to draw yet: what produces its curves, and whether that is under way."""
    run_id = runs_by_kind.get(spec.kind)
    if run_id is None:
        stage = "reward-model" if spec.kind == "reward_model" else "GRPO"
        return f"{spec.title}: this pipeline has no {stage} stage (tick it in Stages to run and Launch)."
    status = status_of.get(run_id, "")
    if status in ACTIVE_STATUSES:
        return f"{spec.title}: run {run_id} is {status}; {spec.empty}."
    return f"{spec.title}: run {run_id} ({status or 'finished'}) logged none of these curves."


def run_figures(
    runs_by_kind: Mapping[str, int], smoothing: float = 0.0, status_of: Mapping[int, str] | None = None
) -> tuple[list[Any], str]:
    """(one plot update per CHARTS entry, a note on the empty ones). A chart without data is hidden rather than
    drawn as an empty frame; the note says what will produce it."""
    import gradio as gr

    updates, notes = [], []
    for spec in CHARTS:
        series = chart_series(spec, runs_by_kind.get(spec.kind))
        if series:
            updates.append(gr.update(value=figure(spec, series, smoothing), visible=True))
        else:
            updates.append(gr.update(value=None, visible=False))
            notes.append(empty_reason(spec, runs_by_kind, status_of or {}))
    return updates, "\n".join(notes)
