"""Figure builders draw exactly the data they are given (values, ordering, intervals), in percent."""

from __future__ import annotations

import pytest

from ui.figures import (
    HeadlineValue,
    TradeoffPoint,
    TypeDelta,
    VoteTally,
    headline_figure,
    steps_figure,
    tradeoff_figure,
    type_delta_figure,
    votes_figure,
)


def test_type_delta_bars_are_in_points_and_sorted_by_gain() -> None:
    deltas = [
        TypeDelta("step 10", "change_case:english_lowercase", value=0.5, baseline=0.1, n=20),
        TypeDelta("step 10", "keywords:existence", value=0.4, baseline=0.5, n=30),
        TypeDelta("step 20", "change_case:english_lowercase", value=0.7, baseline=0.1, n=20),
        TypeDelta("step 20", "keywords:existence", value=0.5, baseline=0.5, n=30),
    ]
    fig = type_delta_figure(deltas, baseline_label="base")
    assert [t.name for t in fig.data] == ["step 10", "step 20"]
    first = fig.data[0]
    # Largest mean gain is drawn last (top of a horizontal bar chart).
    assert list(first.y) == ["keywords:existence", "change_case:english_lowercase"]
    assert list(first.x) == pytest.approx([-10.0, 40.0])
    assert list(fig.data[1].x) == pytest.approx([0.0, 60.0])
    assert "vs base" in fig.layout.title.text
    fig.to_json()  # serialisable for gr.Plot


def test_tradeoff_joins_a_runs_checkpoints_in_step_order_and_marks_the_baseline() -> None:
    points = [
        TradeoffPoint("base", "base", None, 0.30, 0.50, (0.25, 0.35), (0.45, 0.55), is_baseline=True),
        TradeoffPoint("step 20", "run 1", 20, 0.42, 0.49),
        TradeoffPoint("step 10", "run 1", 10, 0.36, 0.51),
    ]
    fig = tradeoff_figure(points)
    base, run = fig.data
    assert base.marker.symbol == ("star",)
    assert list(base.error_y.array) == pytest.approx([5.0])
    assert list(base.error_x.arrayminus) == pytest.approx([5.0])
    assert list(run.text) == ["step 10", "step 20"]
    assert list(run.x) == pytest.approx([51.0, 49.0])
    assert list(run.y) == pytest.approx([36.0, 42.0])
    assert run.error_y is None or not run.error_y.visible
    shapes = fig.layout.shapes
    assert {round(s.y0, 6) for s in shapes if s.y0 == s.y1} == {30.0}


def test_steps_figure_has_if_and_math_lines_per_run() -> None:
    points = [
        TradeoffPoint("s0", "run 1", 0, 0.3, 0.5),
        TradeoffPoint("s5", "run 1", 5, 0.4, 0.48, if_interval=(0.35, 0.45)),
        TradeoffPoint("s5", "run 2", 5, 0.2, 0.6),
    ]
    fig = steps_figure(points)
    names = [t.name for t in fig.data]
    assert len(names) == 4 and names[0].startswith("run 1 · IF") and names[1] == "run 1 · math"
    assert list(fig.data[0].x) == [0, 5]
    assert list(fig.data[0].y) == pytest.approx([30.0, 40.0])
    assert list(fig.data[0].error_y.array) == pytest.approx([0.0, 5.0])


def test_headline_bars_with_whiskers_in_ifeval_order() -> None:
    values = [
        HeadlineValue("base", "instruction_loose", 0.5, 0.45, 0.56),
        HeadlineValue("base", "prompt_strict", 0.2, 0.15, 0.25),
        HeadlineValue("tuned", "prompt_strict", 0.3),
    ]
    fig = headline_figure(values)
    assert list(fig.data[0].x) == ["prompt strict", "instruction loose"]
    assert list(fig.data[0].error_y.array) == pytest.approx([5.0, 6.0])
    assert list(fig.data[1].y) == pytest.approx([30.0])


def test_votes_are_stacked_shares() -> None:
    fig = votes_figure([VoteTally("base", "step 20", a_wins=1, b_wins=2, ties=1, both_bad=0)])
    assert [t.name for t in fig.data] == ["left wins", "right wins", "tie", "both bad"]
    assert [t.x[0] for t in fig.data] == pytest.approx([25.0, 50.0, 25.0, 0.0])
    assert fig.data[0].y == ("base vs step 20",)


def test_user_chosen_labels_show_their_tags_as_text() -> None:
    label = '<a href="javascript:alert(1)">run</a>'
    fig = type_delta_figure([TypeDelta(label, "keywords:existence", value=0.5, baseline=0.1, n=3)], "base")
    assert fig.data[0].name == '&lt;a href="javascript:alert(1)"&gt;run&lt;/a&gt;'
    assert "<a " not in fig.data[0].hovertemplate
    votes = votes_figure([VoteTally("<b>x</b>", "y", 1, 0, 0, 0)])
    assert votes.data[0].y[0].startswith("&lt;b&gt;x")
