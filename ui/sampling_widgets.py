"""The sampling widgets of the screens that generate (Compose & score, Playground, side by side): max new tokens,
temperature, top-p and seed, with one definition of their labels, bounds, steps and defaults.

Each screen picks which widgets it shows, how they are laid out and the prefix of their elem_ids. The server
checks the same values again (lab.models: max_new_tokens >= 1, temperature >= 0, top_p in (0, 1], the seed in
0..MAX_SEED); the upper bounds of tokens and temperature are the interactive screens' own (a few CPU cores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import gradio as gr

from lab.random_seed import MAX_SEED


@dataclass(frozen=True)
class WidgetSpec:
    label: str
    minimum: float
    maximum: float
    step: float
    value: float


MAX_NEW_TOKENS = "max_new_tokens"
TEMPERATURE = "temperature"
TOP_P = "top_p"
SEED = "seed"

SPECS: dict[str, WidgetSpec] = {
    MAX_NEW_TOKENS: WidgetSpec("Max new tokens", 1, 1024, 1, 256),
    TEMPERATURE: WidgetSpec("Temperature", 0.0, 2.0, 0.05, 0.7),
    TOP_P: WidgetSpec("Top-p", 0.05, 1.0, 0.05, 0.95),
    SEED: WidgetSpec("Seed", 0, MAX_SEED, 1, 0),
}
ELEM_SUFFIXES = {MAX_NEW_TOKENS: "max-new-tokens", TEMPERATURE: "temperature", TOP_P: "top-p", SEED: "seed"}


@dataclass(frozen=True)
class SamplingWidgets:
    """The rendered widgets by name; a screen that leaves one out gets None for it."""

    max_new_tokens: gr.Slider
    temperature: gr.Slider
    top_p: gr.Slider | None
    seed: gr.Number


def _widget(name: str, elem_id: str, value: float | None, info: str | None) -> gr.Slider | gr.Number:
    spec = SPECS[name]
    common: dict[str, Any] = {"value": spec.value if value is None else value, "label": spec.label, "elem_id": elem_id}
    if info:
        common["info"] = info
    if name == SEED:  # a number box: a slider over 0..2**32-1 could not pick one seed
        return gr.Number(precision=0, minimum=spec.minimum, maximum=spec.maximum, step=spec.step, **common)
    return gr.Slider(spec.minimum, spec.maximum, step=spec.step, **common)


def sampling_widgets(
    elem_prefix: str,
    rows: Sequence[Sequence[str]] | None = None,
    *,
    values: dict[str, float] | None = None,
    info: dict[str, str] | None = None,
) -> SamplingWidgets:
    """Render the sampling widgets in the current Blocks context, with elem_ids "{elem_prefix}-max-new-tokens",
    "-temperature", "-top-p" and "-seed".

    `rows`: the names to show, each inner sequence side by side in a gr.Row (None: all four stacked, in SPECS
    order); a name left out is not rendered. `values` overrides a default, `info` adds a note under a label.
    """
    unknown = {n for row in rows or () for n in row} | set(values or {}) | set(info or {})
    if unknown - SPECS.keys():
        raise ValueError(f"unknown sampling widgets {sorted(unknown - SPECS.keys())}; known: {list(SPECS)}")
    made: dict[str, gr.Slider | gr.Number] = {}

    def render(name: str) -> None:
        made[name] = _widget(
            name, f"{elem_prefix}-{ELEM_SUFFIXES[name]}", (values or {}).get(name), (info or {}).get(name)
        )

    if rows is None:
        for name in SPECS:
            render(name)
    else:
        for row in rows:
            with gr.Row():
                for name in row:
                    render(name)
    missing = {MAX_NEW_TOKENS, TEMPERATURE, SEED} - made.keys()
    if missing:  # every screen generates with these; only top-p is optional
        raise ValueError(f"sampling widgets {sorted(missing)} are not in any row")
    sliders = cast(dict[str, gr.Slider], made)
    return SamplingWidgets(
        sliders[MAX_NEW_TOKENS], sliders[TEMPERATURE], sliders.get(TOP_P), cast(gr.Number, made[SEED])
    )
