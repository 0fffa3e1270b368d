"""The sampling widgets of Compose & score, Playground and side by side come from one builder: the same labels,
bounds, steps and defaults on every screen (side by side starts with fewer tokens), the elem_ids by screen."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from lab.models import MAX_SEED
from ui import arena_view, compose, playground
from ui.sampling_widgets import (
    ELEM_SUFFIXES,
    MAX_NEW_TOKENS,
    SEED,
    SPECS,
    TEMPERATURE,
    TOP_P,
    sampling_widgets,
)

PREFIXES = {"compose": "compose", "playground": "playground", "side by side": "compare-arena"}


def _screens() -> dict[str, gr.Blocks]:
    screens = {}
    with gr.Blocks() as screens["compose"]:
        compose.build(screens["compose"])
    with gr.Blocks() as screens["playground"]:
        playground.build(screens["playground"])
    with gr.Blocks() as screens["side by side"]:
        arena_view.build(gr.Dropdown(), gr.Dropdown(), (gr.State([]), gr.Textbox()))
    return screens


def _widgets(demo: gr.Blocks, prefix: str) -> dict[str, gr.Slider | gr.Number]:
    by_id = {b.elem_id: b for b in demo.blocks.values() if isinstance(b, gr.Slider | gr.Number)}
    return {
        name: by_id[f"{prefix}-{suffix}"] for name, suffix in ELEM_SUFFIXES.items() if f"{prefix}-{suffix}" in by_id
    }


def test_every_screen_has_the_same_bounds_and_defaults(lab_home: Path) -> None:
    shown = {screen: _widgets(demo, PREFIXES[screen]) for screen, demo in _screens().items()}
    assert {screen: sorted(w) for screen, w in shown.items()} == {
        "compose": sorted(SPECS),
        "playground": sorted(SPECS),
        "side by side": sorted([MAX_NEW_TOKENS, TEMPERATURE, SEED]),  # no top-p there
    }
    for screen, widgets in shown.items():
        for name, widget in widgets.items():
            spec = SPECS[name]
            assert (widget.label, widget.minimum, widget.maximum, widget.step) == (
                spec.label,
                spec.minimum,
                spec.maximum,
                spec.step,
            ), (screen, name)
            expected = spec.value
            if screen == "side by side" and name == MAX_NEW_TOKENS:
                expected = arena_view.SIDE_BY_SIDE_MAX_NEW_TOKENS  # up to four answers, one after another
            assert widget.value == expected, (screen, name)
    seeds = [w[SEED] for w in shown.values()]
    assert all(isinstance(s, gr.Number) and s.precision == 0 and s.maximum == MAX_SEED for s in seeds)
    assert all(isinstance(w[n], gr.Slider) for w in shown.values() for n in w if n != SEED)
    assert shown["playground"][TEMPERATURE].info == "0 = greedy"


def test_the_widgets_feed_generation_in_the_handlers_order(lab_home: Path) -> None:
    screens = _screens()

    def inputs_of(demo: gr.Blocks, fn: object) -> list[str | None]:
        found = next(d for d in demo.fns.values() if d.fn is fn)
        return [b.elem_id for b in found.inputs]

    assert inputs_of(screens["playground"], playground.generate)[2:6] == [
        "playground-max-new-tokens",
        "playground-temperature",
        "playground-top-p",
        "playground-seed",
    ]
    assert inputs_of(screens["compose"], compose.on_generate)[3:] == [
        "compose-max-new-tokens",
        "compose-temperature",
        "compose-top-p",
        "compose-seed",
    ]
    assert inputs_of(screens["side by side"], arena_view.on_generate)[5:8] == [
        "compare-arena-seed",
        "compare-arena-temperature",
        "compare-arena-max-new-tokens",
    ]


def test_the_builder_refuses_unknown_or_missing_widgets() -> None:
    with gr.Blocks():
        with pytest.raises(ValueError, match="unknown"):
            sampling_widgets("x", [[MAX_NEW_TOKENS, "top_k"]])
        with pytest.raises(ValueError, match="not in any row"):
            sampling_widgets("y", [[TOP_P, SEED]])
