"""Compare's in-domain vs out-of-domain panel: per checkpoint one IFEval-style number on heldout-if (or another
in-domain suite) next to heldout-ood (or an IFBench file), paired deltas vs the baseline, a reading and a figure.
Data from evals.ood_compare; ui/compare.py places it and passes its triggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from evals.domains import IN_DOMAIN, OUT_OF_DOMAIN
from evals.metrics import HEADLINE_ORDER
from evals.ood_compare import (
    DEFAULT_METRIC,
    domain_table,
    domain_values,
    evaluated_suites,
    format_domain_table,
    short_suite,
)
from evals.suites import HELDOUT_IF, HELDOUT_OOD
from ui.errors import to_ui_error
from ui.events import PRIVATE, QUICK

EMPTY_NOTE = (
    "In-domain vs out-of-domain: evaluate the picked checkpoints on heldout-if and heldout-ood (both are ticked "
    "under Suites), then Show comparison."
)


def on_domain_results(
    refs: list[str] | None, baseline: str | None, in_suite: str, ood_suite: str, metric: str
) -> tuple[Any, Any, str]:
    """Table, figure and a note; nothing picked or nothing evaluated yet is a note, not an error."""
    from ui.figures import domain_figure

    hidden = gr.update(visible=False)
    refs = list(refs or [])
    if not refs:
        return hidden, hidden, EMPTY_NOTE
    try:
        in_suite, ood_suite = (in_suite or HELDOUT_IF).strip(), (ood_suite or HELDOUT_OOD).strip()
        baseline = baseline if baseline in refs else refs[0]
        rows = domain_table(refs, in_suite, ood_suite, baseline)
        complete = {r.ref for r in rows if r.in_domain and r.out_of_domain}
        missing = [r for r in dict.fromkeys([baseline, *refs]) if r not in complete]
        if not rows:
            note = f"None of the picked models is evaluated on {in_suite} or {ood_suite} yet: tick both under "
            return hidden, hidden, note + "Suites and press Evaluate."
        headers, cells = format_domain_table(rows, metric or DEFAULT_METRIC, in_suite, ood_suite)
        names = (short_suite(in_suite), short_suite(ood_suite))
        figure = domain_figure(domain_values(rows, metric or DEFAULT_METRIC), metric or DEFAULT_METRIC, names)
        note = (
            f"{len(complete)} model(s) on both suites; deltas are paired on the same prompts. A gain in-domain "
            "that out-of-domain does not share is overfitting to the training types."
        )
        if missing:
            note += f" Not yet on both {in_suite} and {ood_suite}: {_labels(missing, rows)} (press Evaluate)."
        return (
            gr.update(value={"headers": headers, "data": cells}, visible=True),
            gr.update(value=figure, visible=True),
            note,
        )
    except Exception as error:
        raise to_ui_error(error, "In-domain vs out-of-domain") from None


def _labels(refs: Sequence[str], rows: Sequence[Any]) -> str:
    known = {r.ref: r.label for r in rows}
    return ", ".join(known.get(r, f"checkpoint {r}" if r.isdigit() else r) for r in refs)


def on_suite_choices() -> tuple[Any, Any]:
    """heldout-if / heldout-ood first, then every evaluated file of that domain (mixed files in both)."""
    in_domain = list(dict.fromkeys([HELDOUT_IF, *evaluated_suites(IN_DOMAIN)]))
    ood = list(dict.fromkeys([HELDOUT_OOD, *evaluated_suites(OUT_OF_DOMAIN)]))
    return gr.update(choices=in_domain), gr.update(choices=ood)


def build(targets: gr.Dropdown, baseline: gr.Dropdown, triggers: Sequence[Any]) -> None:
    """The panel, redrawn on `triggers` (Compare's Show comparison and evaluation-finished events)."""
    with gr.Accordion("In-domain vs out-of-domain", open=True):
        with gr.Row():
            in_suite = gr.Dropdown(
                [HELDOUT_IF], value=HELDOUT_IF, allow_custom_value=True, label="In-domain suite",
                elem_id="compare-in-suite",
            )  # fmt: skip
            ood_suite = gr.Dropdown(
                [HELDOUT_OOD], value=HELDOUT_OOD, allow_custom_value=True,
                label="Out-of-domain suite (or type ifbench:/path/to/IFBench_test.jsonl)", elem_id="compare-ood-suite",
            )  # fmt: skip
            metric = gr.Dropdown(
                list(HEADLINE_ORDER), value=DEFAULT_METRIC, label="Metric", elem_id="compare-domain-metric"
            )
        note = gr.Textbox(value=EMPTY_NOTE, show_label=False, interactive=False, elem_id="compare-domain-note")
        table = gr.Dataframe(
            headers=["model"], interactive=False, wrap=True, visible=False, elem_id="compare-domain-table",
            column_widths=["20%", "15%", "15%", "15%", "15%", "20%"],
            label="The metric picked above, in % [95 % interval]; Δ vs the baseline in points, paired",
        )  # fmt: skip
        plot = gr.Plot(show_label=False, visible=False, elem_id="compare-domain-plot")
    inputs = [targets, baseline, in_suite, ood_suite, metric]
    outputs = [table, plot, note]
    gr.on([*triggers], on_suite_choices, None, [in_suite, ood_suite], **QUICK)
    gr.on([*triggers, in_suite.change, ood_suite.change, metric.change], on_domain_results, inputs, outputs, **PRIVATE)
