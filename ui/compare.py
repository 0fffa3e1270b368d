"""Compare tab: pick checkpoints → evaluate them (an `evaluate` job, cached) → metrics table with deltas and
95 % intervals, per-type delta chart, IF-vs-math trade-off; then side by side with blind votes (ui/arena_view).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from lab.errors import LabError
from storage.jobs import get_job
from training.compare import (
    IF_SUITE,
    MATH_SUITE,
    comparison_table,
    format_table,
    headline_values,
    latest_evaluation,
    tradeoff_data,
    type_deltas,
)
from training.jobs import submit_job
from ui import arena_view
from ui import job_view as jv
from ui.choices import compare_targets, reward_models
from ui.errors import to_ui_error
from ui.events import PRIVATE, QUICK
from ui.settings import check_can_submit, read_only

SUITES = (IF_SUITE, MATH_SUITE)
DEFAULT_LIMIT = 40  # prompts per suite part: minutes on a CPU; clear the box for whole suites


def on_open(current: list[str] | None) -> tuple[Any, Any]:
    # Typed-in folders stay picked; the menu is rebuilt so new checkpoints appear.
    return gr.update(choices=compare_targets(), value=list(current or [])), gr.update(choices=reward_models())


def on_baseline_choices(refs: list[str], baseline: str | None) -> Any:
    labels = dict(compare_targets())
    inverse = {v: k for k, v in labels.items()}
    choices = [(inverse.get(r, r), r) for r in refs or []]
    value = baseline if baseline in (refs or []) else (refs[0] if refs else None)
    return gr.update(choices=choices, value=value)


def on_evaluate(
    refs: list[str], suites: list[str], limit: float | None, max_new_tokens: float, rm_path: str
) -> tuple[str, int, Any]:
    try:
        if not refs:
            raise LabError("pick at least one checkpoint (the base model counts)", field="checkpoints")
        check_can_submit(1)
        values = {
            "checkpoints": list(refs),
            "suites": list(suites or []),
            "limit": None if limit in (None, "", 0) else int(limit),
            "max_new_tokens": int(max_new_tokens),
            "reward_model": rm_path or None,
        }
        job = submit_job("evaluate", values, name=f"evaluate {len(refs)} model(s)")
    except Exception as error:
        raise to_ui_error(error, "Evaluate") from None
    return (
        f"Queued evaluate job {job.id}; results are cached, so pairs already evaluated finish at once.",
        job.id,
        gr.Timer(active=True),
    )


def on_eval_tick(job_id: int | None) -> tuple[str, Any, Any]:
    """Job progress while it runs; when it ends, stop ticking and mark it done (which shows the results)."""
    if not job_id:
        return "", gr.Timer(active=False), gr.skip()
    job = get_job(int(job_id))
    if job.status in ("queued", "running"):
        return jv.progress_of(job).text, gr.Timer(active=True), gr.skip()
    return jv.progress_of(job).text, gr.Timer(active=False), job.id


def _missing(refs: list[str], suite: str) -> list[str]:
    return [r for r in refs if latest_evaluation(r, suite) is None]


def _names(refs: list[str]) -> str:
    labels = {value: label for label, value in compare_targets()}
    return ", ".join(labels.get(r, f"checkpoint {r}" if r.isdigit() else r) for r in refs)


def metrics_by_row(headers: list[str], cells: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """format_table's one-row-per-model table turned around: one row per metric, one column per model, each
    cell 'value [interval]' plus 'Δ delta [interval]' for the non-baseline models (narrow enough to read)."""
    models = [row[0] for row in cells]
    out = [["n", *[row[1] for row in cells]]]
    for i in range(2, len(headers), 2):
        values = []
        for row in cells:
            delta = row[i + 1]
            values.append(row[i] + (f"   Δ {delta}" if delta else ""))
        out.append([headers[i], *values])
    return ["metric", *models], out


def on_results(refs: list[str], baseline: str | None, suite: str, mode: str) -> list[Any]:
    """Table with deltas, four IFEval numbers, per-type deltas, trade-off and accuracy over steps."""
    from lab.figures import headline_figure, steps_figure, tradeoff_figure, type_delta_figure
    from storage.eval_results import checkpoint_infos

    try:
        refs = list(refs or [])
        if not refs:
            raise LabError("pick at least one checkpoint", field="checkpoints")
        baseline = baseline if baseline in refs else refs[0]
        ordered = [baseline, *[r for r in refs if r != baseline]]
        rows = comparison_table(ordered, suite, baseline)
        headers, cells = metrics_by_row(*format_table(rows)) if rows else (["metric"], [])
        missing = _missing(ordered, suite)
        notes = []
        if missing:
            notes.append(f"not evaluated on {suite} yet: {_names(missing)} — press Evaluate")
        base_label = next((r.label for r in rows if r.is_baseline), baseline)
        deltas = type_deltas(ordered, suite, baseline, mode) if len(rows) > 1 else []
        run_ids = sorted({i.run_id for i in checkpoint_infos(ids=[int(r) for r in refs if r.isdigit()])})
        trade = tradeoff_data(run_ids) if run_ids else None
        if trade is not None and trade.missing:
            notes.append(
                f"the trade-off view also needs {IF_SUITE} and {MATH_SUITE} results for {_names(trade.missing)}"
            )
        return [
            {"headers": headers, "data": cells},
            headline_figure(headline_values(rows)) if rows else None,
            type_delta_figure(deltas, base_label) if deltas else None,
            tradeoff_figure(trade.points) if trade and trade.points else None,
            steps_figure(trade.points) if trade and trade.points else None,
            "; ".join(notes) or f"{len(rows)} model(s) on {suite}; deltas are paired on the same prompts.",
        ]
    except Exception as error:
        raise to_ui_error(error, "Comparison") from None


def build(demo: gr.Blocks, tab: gr.Tab, composed: tuple[gr.State, gr.Textbox]) -> None:
    """Render the Compare tab inside `tab`; `composed` is the Compose tab's (constraint list, task)."""
    locked = read_only()
    eval_job = gr.State(None)
    eval_done = gr.State(None)
    with gr.Row():
        targets = gr.Dropdown(
            [],
            multiselect=True,
            allow_custom_value=True,
            label="Checkpoints (the base model counts; or type a checkpoint folder and press Enter)",
            scale=3,
            elem_id="compare-targets",
        )
        baseline = gr.Dropdown([], label="Baseline for deltas", scale=2, elem_id="compare-baseline")
        refresh = gr.Button("↻", size="sm", scale=0, min_width=40, elem_id="compare-refresh")
    with gr.Accordion("Evaluate the picked checkpoints", open=True):
        with gr.Row():
            suites = gr.CheckboxGroup(list(SUITES), value=list(SUITES), label="Suites", elem_id="compare-suites")
            limit = gr.Number(
                value=DEFAULT_LIMIT, precision=0, label="Prompts per suite part (empty = all)", elem_id="compare-limit"
            )
            max_new_tokens = gr.Number(
                value=256, precision=0, label="Max new tokens (greedy)", elem_id="compare-max-tokens"
            )
            rm = gr.Dropdown(
                [("none: score hard constraints only", "")], value="", label="Reward model for soft constraints"
            )
        evaluate = gr.Button("Evaluate", variant="primary", interactive=not locked, elem_id="compare-evaluate")
        eval_status = gr.Textbox(show_label=False, interactive=False, elem_id="compare-eval-status")
    with gr.Row():
        suite = gr.Dropdown(list(SUITES), value=IF_SUITE, label="Suite to compare on", elem_id="compare-suite")
        mode = gr.Radio(["loose", "strict"], value="loose", label="Per-type pass rates")
        show = gr.Button("Show comparison", variant="primary", elem_id="compare-show")
    note = gr.Textbox(show_label=False, interactive=False, elem_id="compare-note")
    table = gr.Dataframe(interactive=False, wrap=True, label="Metrics (%, 95 % intervals)", elem_id="compare-table")
    with gr.Row():
        headline_plot = gr.Plot(show_label=False, elem_id="compare-headline")
        delta_plot = gr.Plot(show_label=False, elem_id="compare-deltas")
    with gr.Row():
        tradeoff_plot = gr.Plot(show_label=False, elem_id="compare-tradeoff")
        steps_plot = gr.Plot(show_label=False, elem_id="compare-steps")
    votes_fn, votes_outputs = arena_view.build(targets, rm, composed)
    timer = gr.Timer(1.5, active=False)

    gr.on([tab.select, refresh.click, demo.load], on_open, targets, [targets, rm], **QUICK)
    gr.on([tab.select, demo.load], votes_fn, None, votes_outputs, **PRIVATE)
    targets.change(on_baseline_choices, [targets, baseline], baseline, **QUICK)
    result_outputs = [table, headline_plot, delta_plot, tradeoff_plot, steps_plot, note]
    show.click(on_results, [targets, baseline, suite, mode], result_outputs, **PRIVATE)
    evaluate.click(on_evaluate, [targets, suites, limit, max_new_tokens, rm], [eval_status, eval_job, timer], **PRIVATE)
    timer.tick(on_eval_tick, eval_job, [eval_status, timer, eval_done], **QUICK)
    eval_done.change(on_results, [targets, baseline, suite, mode], result_outputs, **PRIVATE)
