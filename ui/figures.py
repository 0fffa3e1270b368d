"""Plotly figure builders for evaluation and comparison, drawn from the plain data values of evals/.

Accuracies come in as fractions in [0, 1] and are drawn as percentages. Plotly is imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evals.arena import VoteTally
from evals.compare import HeadlineValue, TradeoffPoint, TypeDelta
from evals.metrics import HEADLINE_ORDER
from evals.ood_compare import DomainValue

if TYPE_CHECKING:  # plotly is heavy-ish; the UI imports this module lazily anyway
    import plotly.graph_objects as go

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
HEADLINE_TITLES = {
    "prompt_strict": "prompt strict",
    "prompt_loose": "prompt loose",
    "instruction_strict": "instruction strict",
    "instruction_loose": "instruction loose",
}


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def _errors(values: Sequence[float], lows: Sequence[float | None], highs: Sequence[float | None]) -> dict | None:
    if all(lo is None for lo in lows):
        return None
    plus = [0.0 if h is None else 100.0 * (h - v) for v, h in zip(values, highs, strict=True)]
    minus = [0.0 if lo is None else 100.0 * (v - lo) for v, lo in zip(values, lows, strict=True)]
    return {"type": "data", "array": plus, "arrayminus": minus, "visible": True}


def _plain(text: str) -> str:
    """Plotly reads a few HTML-like tags in labels; run names are user text, so show their tags as text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        title=title,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend_title_text="",
        **kwargs,
    )
    return fig


def type_delta_figure(deltas: Sequence[TypeDelta], baseline_label: str, title: str | None = None) -> go.Figure:
    """Horizontal bars: per constraint type, pass-rate change in points vs the baseline, one colour per checkpoint."""
    go = _go()
    labels = list(dict.fromkeys(d.label for d in deltas))
    # Biggest mean gain on top, so the story reads from the top down.
    by_type: dict[str, list[float]] = {}
    for d in deltas:
        by_type.setdefault(d.type_id, []).append(d.delta)
    types = sorted(by_type, key=lambda t: sum(by_type[t]) / len(by_type[t]))
    fig = go.Figure()
    for i, label in enumerate(labels):
        mine = {d.type_id: d for d in deltas if d.label == label}
        ys = [t for t in types if t in mine]
        fig.add_trace(
            go.Bar(
                name=_plain(label),
                y=ys,
                x=[100.0 * mine[t].delta for t in ys],
                orientation="h",
                marker_color=PALETTE[i % len(PALETTE)],
                customdata=[[100.0 * mine[t].baseline, 100.0 * mine[t].value, mine[t].n] for t in ys],
                hovertemplate="%{y}<br>%{customdata[0]:.1f}% → %{customdata[1]:.1f}% (n=%{customdata[2]})"
                "<br>Δ %{x:+.1f} points<extra>" + _plain(label) + "</extra>",
            )
        )
    fig.add_vline(x=0, line_color="#444", line_width=1)
    return _layout(
        fig,
        title or f"Pass rate change per constraint type vs {baseline_label}",
        barmode="group",
        legend_traceorder="normal",
        xaxis_title="Δ pass rate (points)",
        height=max(320, 26 * len(types) * max(1, len(labels)) ** 0.5 + 120),
    )


def tradeoff_figure(points: Sequence[TradeoffPoint], if_metric: str = "instruction-level loose") -> go.Figure:
    """IF accuracy (y) vs math accuracy (x) per checkpoint; a run's checkpoints joined in step order."""
    go = _go()
    fig = go.Figure()
    series = list(dict.fromkeys(p.series for p in points))
    for i, name in enumerate(series):
        mine = sorted((p for p in points if p.series == name), key=lambda p: (p.step is not None, p.step or 0))
        xs = [p.math_accuracy for p in mine]
        ys = [p.if_accuracy for p in mine]
        fig.add_trace(
            go.Scatter(
                name=_plain(name),
                x=[_pct(x) for x in xs],
                y=[_pct(y) for y in ys],
                mode="lines+markers+text" if len(mine) > 1 else "markers+text",
                text=[_plain(p.label) for p in mine],
                textposition="top center",
                marker={
                    "size": [16 if p.is_baseline else 10 for p in mine],
                    "symbol": ["star" if p.is_baseline else "circle" for p in mine],
                    "color": PALETTE[i % len(PALETTE)],
                },
                line={"color": PALETTE[i % len(PALETTE)], "width": 1, "dash": "dot"},
                error_x=_errors(
                    xs,
                    [p.math_interval[0] if p.math_interval else None for p in mine],
                    [p.math_interval[1] if p.math_interval else None for p in mine],
                ),
                error_y=_errors(
                    ys,
                    [p.if_interval[0] if p.if_interval else None for p in mine],
                    [p.if_interval[1] if p.if_interval else None for p in mine],
                ),
                hovertemplate="%{text}<br>math %{x:.1f}%<br>IF %{y:.1f}%<extra>" + name + "</extra>",
            )
        )
    base = next((p for p in points if p.is_baseline), None)
    if base is not None:
        # Reference lines through the baseline: up-and-right of both is "better without the trade-off".
        fig.add_hline(y=100 * base.if_accuracy, line_dash="dash", line_color="#999", line_width=1)
        fig.add_vline(x=100 * base.math_accuracy, line_dash="dash", line_color="#999", line_width=1)
    return _layout(
        fig,
        "Trade-off: instruction following vs math",
        xaxis_title="math probe accuracy (%)",
        yaxis_title=f"IF accuracy, {if_metric} (%)",
        height=460,
    )


def steps_figure(points: Sequence[TradeoffPoint], if_metric: str = "instruction-level loose") -> go.Figure:
    """IF accuracy and math accuracy over training steps, one pair of lines per run."""
    go = _go()
    fig = go.Figure()
    # The baseline (the base model, step 0) starts every run's lines rather than being a series of its own.
    base = [p for p in points if p.is_baseline]
    series = list(dict.fromkeys(p.series for p in points if not p.is_baseline)) or list(
        dict.fromkeys(p.series for p in base)
    )
    for i, name in enumerate(series):
        mine = sorted([p for p in points if p.series == name and not p.is_baseline] + base, key=lambda p: p.step or 0)
        steps = [p.step or 0 for p in mine]
        color = PALETTE[i % len(PALETTE)]
        for metric, dash, getter, interval in (
            (f"IF ({if_metric})", "solid", lambda p: p.if_accuracy, lambda p: p.if_interval),
            ("math", "dash", lambda p: p.math_accuracy, lambda p: p.math_interval),
        ):
            ys = [getter(p) for p in mine]
            fig.add_trace(
                go.Scatter(
                    name=f"{_plain(name)} · {metric}",
                    x=steps,
                    y=[_pct(y) for y in ys],
                    mode="lines+markers",
                    line={"color": color, "dash": dash},
                    error_y=_errors(
                        ys,
                        [interval(p)[0] if interval(p) else None for p in mine],
                        [interval(p)[1] if interval(p) else None for p in mine],
                    ),
                    text=[_plain(p.label) for p in mine],
                    hovertemplate="%{text}<br>step %{x}: %{y:.1f}%<extra></extra>",
                )
            )
    return _layout(fig, "Accuracy over training steps", xaxis_title="step", yaxis_title="accuracy (%)", height=420)


def headline_figure(values: Sequence[HeadlineValue]) -> go.Figure:
    """IFEval's four numbers per checkpoint as grouped bars with 95 % interval whiskers."""
    go = _go()
    fig = go.Figure()
    labels = list(dict.fromkeys(v.label for v in values))
    metrics = [m for m in HEADLINE_ORDER if any(v.metric == m for v in values)]
    metrics += sorted({v.metric for v in values} - set(metrics))
    for i, label in enumerate(labels):
        mine = {v.metric: v for v in values if v.label == label}
        ms = [m for m in metrics if m in mine]
        vals = [mine[m].value for m in ms]
        fig.add_trace(
            go.Bar(
                name=_plain(label),
                x=[HEADLINE_TITLES.get(m, m) for m in ms],
                y=[_pct(v) for v in vals],
                marker_color=PALETTE[i % len(PALETTE)],
                error_y=_errors(vals, [mine[m].low for m in ms], [mine[m].high for m in ms]),
                hovertemplate="%{x}: %{y:.1f}%<extra>" + _plain(label) + "</extra>",
            )
        )
    return _layout(fig, "IFEval metrics (95 % bootstrap intervals)", barmode="group", yaxis_title="%", height=400)


def domain_figure(
    values: Sequence[DomainValue], metric: str = "instruction_loose", suites: tuple[str, str] | None = None
) -> go.Figure:
    """Per checkpoint, the metric in-domain next to out-of-domain (95 % whiskers), each bar labelled with its delta
    vs the baseline: a gain in-domain that the out-of-domain bar does not share is overfitting to training types.
    `suites` (in-domain, out-of-domain) names the legend entries."""
    go = _go()
    fig = go.Figure()
    labels = list(dict.fromkeys(v.label for v in values))
    for i, domain in enumerate(("in-domain", "out-of-domain")):
        mine = {v.label: v for v in values if v.domain == domain}
        xs = [label for label in labels if label in mine]
        vals = [mine[x].value for x in xs]
        fig.add_trace(
            go.Bar(
                name=_plain(f"{domain}: {suites[i]}" if suites else domain),
                x=[_plain(x) for x in xs],
                y=[_pct(v) for v in vals],
                marker_color=PALETTE[i],
                error_y=_errors(vals, [mine[x].low for x in xs], [mine[x].high for x in xs]),
                # Inside at the bar's foot, so the label never collides with the interval whisker.
                text=["" if mine[x].delta is None else f"Δ {100 * mine[x].delta:+.1f}" for x in xs],
                textposition="inside",
                insidetextanchor="start",
                textfont={"color": "white"},
                hovertemplate="%{x}: %{y:.1f}% %{text}<extra>" + domain + "</extra>",
            )
        )
    title = HEADLINE_TITLES.get(metric, metric)
    return _layout(
        fig,
        f"In-domain vs out-of-domain, {title} (95 % intervals; Δ vs baseline in points)",
        barmode="group",
        yaxis_title="%",
        height=420,
    )


def votes_figure(tallies: Sequence[VoteTally]) -> go.Figure:
    """Stacked horizontal bars: per pair "left vs right", the share of votes each won, ties and both bad."""
    go = _go()
    fig = go.Figure()
    names = [_plain(f"{t.a_label} vs {t.b_label}") for t in tallies]
    totals = [max(1, t.a_wins + t.b_wins + t.ties + t.both_bad) for t in tallies]
    for part, color, getter in (
        ("left wins", "#2ca02c", lambda t: t.a_wins),
        ("right wins", "#1f77b4", lambda t: t.b_wins),
        ("tie", "#bbbbbb", lambda t: t.ties),
        ("both bad", "#d62728", lambda t: t.both_bad),
    ):
        counts = [getter(t) for t in tallies]
        fig.add_trace(
            go.Bar(
                name=part,
                y=names,
                x=[100.0 * c / n for c, n in zip(counts, totals, strict=True)],
                orientation="h",
                marker_color=color,
                customdata=counts,
                hovertemplate="%{y}: %{customdata} votes (%{x:.0f}%)<extra>" + part + "</extra>",
            )
        )
    return _layout(
        fig,
        "Blind votes per pair",
        barmode="stack",
        legend_traceorder="normal",
        xaxis_title="% of votes",
        height=max(260, 60 * len(tallies) + 140),
    )
