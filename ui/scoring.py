"""Scoring a response for the screens: reward breakdown → table rows, a bar chart and an aggregate line.

Everything shown here is text for Textbox/Dataframe cells; chart labels use only constraint ids, never the
response or the user's words (Plotly interprets a few tags in labels).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.constraints.ifeval_modes import LOOSE, STRICT
from lab.reward import SoftScorer, breakdown

BREAKDOWN_HEADERS = ["#", "constraint", "kind", "pass / score", "strict · loose", "evidence"]
BREAKDOWN_WIDTHS = ["5%", "33%", "10%", "14%", "14%", "24%"]  # "kind" at 8 % wrapped to "kin d", "har d"
_scorer_lock = threading.Lock()
_scorer_cache: dict[str, SoftScorer] = {}  # one RM at a time: a classifier is hundreds of MB


@dataclass(frozen=True)
class ScoreView:
    """What the Compose screen shows for one scored response."""

    table: list[list[Any]]
    aggregate: str
    answer: str
    thinking: str
    breakdown: dict[str, Any]


def _verdict(v: Mapping[str, Any] | None) -> str:
    if not v:
        return "—"
    return "pass" if v.get("passed") else "fail"


def result_word(result: Mapping[str, Any]) -> str:
    if result.get("score") is None:
        return "not scored"
    return "pass" if result.get("passed") else "fail"


def _result_cell(result: Mapping[str, Any]) -> str:
    score = result.get("score")
    return result_word(result) if score is None else f"{result_word(result)} ({float(score):.2f})"


def _modes_cell(result: Mapping[str, Any]) -> str:
    if result.get("kind") != "hard":
        return ""
    return f"{_verdict(result.get(STRICT))} · {_verdict(result.get(LOOSE))}"


def breakdown_rows(data: Mapping[str, Any]) -> list[list[Any]]:
    """One table row per constraint of a breakdown dict (RewardBreakdown.to_dict(), as stored with samples)."""
    rows = []
    for r in data.get("results") or []:
        rows.append(
            [
                int(r.get("index", len(rows))) + 1,
                str(r.get("id", "")),
                str(r.get("kind", "")),
                _result_cell(r),
                _modes_cell(r),
                str(r.get("evidence", "")),
            ]
        )
    math = data.get("math")
    if math:
        word = "pass (1.00)" if math.get("correct") else "fail (0.00)"
        evidence = f"boxed {math.get('boxed')!r}, expected {math.get('expected')!r}"
        rows.append([1, "math (boxed answer)", "math", word, "", evidence])
    return rows


def aggregate_line(data: Mapping[str, Any]) -> str:
    reward = data.get("reward")
    label = str(data.get("label", ""))
    if reward is None:
        return f"no reward — {label}"
    return f"reward {float(reward):.3f} — {label}"


def summary(data: Mapping[str, Any]) -> str:
    """Compact one-line form for tables of many samples: 'keywords:existence ✓ | soft:tone 0.62'."""
    if not data:
        return ""
    if not data.get("format_ok", True):
        return "format failure: unclosed <think>"
    marks = []
    for r in data.get("results") or []:
        if r.get("score") is None:
            marks.append(f"{r.get('id')} ?")
        elif r.get("kind") == "soft":
            marks.append(f"{r.get('id')} {float(r['score']):.2f}")
        else:
            marks.append(f"{r.get('id')} {'✓' if r.get('passed') else '✗'}")
    if data.get("math"):
        marks.append(f"math {'✓' if data['math'].get('correct') else '✗'}")
    return " | ".join(marks)


def score_response(
    row: Mapping[str, Any], response: str, hard_mode: str = STRICT, soft_scorer: SoftScorer | None = None
) -> ScoreView:
    """Score `response` against the row's constraints (hard by code, soft by the scorer when one is given)."""
    result = breakdown(row, response or "", soft_scorer=soft_scorer, hard_mode=hard_mode).to_dict()
    return ScoreView(
        table=breakdown_rows(result),
        aggregate=aggregate_line(result),
        answer=str(result.get("answer") or ""),
        thinking=str(result.get("thinking") or ""),
        breakdown=result,
    )


def breakdown_figure(data: Mapping[str, Any], title: str | None = None) -> Any:
    """Bars of each constraint's score (green pass, red fail, grey not scored) with the aggregate as title."""
    import plotly.graph_objects as go

    results = list(data.get("results") or [])
    names = [f"#{int(r.get('index', i)) + 1} {r.get('id')}" for i, r in enumerate(results)]
    scores = [0.0 if r.get("score") is None else float(r["score"]) for r in results]
    colours = ["#bbbbbb" if r.get("score") is None else ("#2ca02c" if r.get("passed") else "#d62728") for r in results]
    words = [result_word(r) for r in results]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=scores,
            marker_color=colours,
            text=words,
            textposition="outside",
            hovertemplate="%{x}: %{y:.2f}<extra></extra>",
        )
    )
    reward = data.get("reward")
    fig.update_layout(
        title=title or ("reward —" if reward is None else f"reward {float(reward):.3f}"),
        template="plotly_white",
        yaxis={"range": [0, 1.15], "title": "score"},
        margin={"l": 50, "r": 20, "t": 50, "b": 90},
        height=320,
        showlegend=False,
    )
    return fig


def soft_scorer_for(path: str) -> SoftScorer | None:
    """The reward model at `path` as a SoftScorer, loaded once and kept ("" → None: hard constraints only)."""
    if not path:
        return None
    from evals.targets import is_registered_checkpoint
    from lab.model_access import check_demo_model

    check_demo_model(path, is_registered_checkpoint, field="reward_model")  # a read-only demo: stored RMs only
    with _scorer_lock:
        if path not in _scorer_cache:
            from lab.rm_scorer import load_rm_scorer

            _scorer_cache.clear()
            _scorer_cache[path] = load_rm_scorer(path)
        return _scorer_cache[path]
