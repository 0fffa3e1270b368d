"""Compare tab: pick checkpoints → evaluate them (an `evaluate` job, cached) → metrics table with deltas and
95 % intervals, per-type delta chart, IF-vs-math trade-off; then side by side with blind votes (ui/arena_view).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from evals.compare import (
    ARITH_SUITE,
    IF_SUITE,
    MATH_SUITE,
    comparison_table,
    format_table,
    headline_values,
    latest_evaluation,
    tradeoff_data,
    type_deltas,
)
from evals.suites import HELDOUT_OOD
from lab.constraints.ifeval_modes import LOOSE, STRICT
from lab.errors import LabError
from storage.jobs import get_job
from storage.models import ACTIVE_STATUSES
from training.evaluate_job import EvaluateConfig
from training.jobs import cancel_job, submit_job
from training.registry import config_bounds
from ui import arena_view, ood_view
from ui import job_view as jv
from ui.choices import compare_targets, reward_models
from ui.errors import to_ui_error
from ui.events import PRIVATE, QUICK
from ui.rm_inspector import quality_note
from ui.settings import check_can_change, check_can_submit, read_only

SUITES = (IF_SUITE, HELDOUT_OOD, MATH_SUITE, ARITH_SUITE)  # heldout-ood: the out-of-domain side (ui/ood_view.py)
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
        check_can_submit()
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


def on_eval_tick(job_id: int | None) -> tuple[Any, ...]:
    """Job progress (bar, line, cancel button) while it runs; when it ends, stop ticking and mark it done."""
    if not job_id:
        return "", gr.Timer(active=False), gr.skip(), gr.skip(), gr.update(interactive=False)
    job = get_job(int(job_id))
    progress = jv.progress_of(job)
    bar = gr.update(value=jv.progress_bar_html(progress, job.status), visible=True)
    if job.status in ACTIVE_STATUSES:
        cancel = gr.update(interactive=not read_only())
        return progress.text, gr.Timer(active=True), gr.skip(), bar, cancel
    return progress.text, gr.Timer(active=False), job.id, bar, gr.update(interactive=False)


def on_cancel_eval(job_id: int | None) -> str:
    try:
        check_can_change()
        if not job_id:
            raise LabError("no evaluation launched from this page is running", field="job")
        cancel_job(int(job_id))
        return f"Cancel requested for evaluate job {job_id}: finished checkpoint × suite pairs stay cached."
    except Exception as error:
        raise to_ui_error(error, "Cancel") from None


SUITE_PROMPTS = {
    IF_SUITE: (300, 100),
    HELDOUT_OOD: (300,),
    MATH_SUITE: (200,),
    ARITH_SUITE: (200,),
}  # prompts per suite part
FALLBACK_S_PER_TOKEN = 1 / 100  # ~100 tokens/s: batch-16 generation of the bundled model on 2 CPU cores


def seconds_per_token() -> tuple[float, str]:
    """From the newest stored evaluation's own timing (measured here), else the measured CPU default."""
    from storage.evaluations import list_evaluations

    for evaluation in list_evaluations(limit=20):
        timing = evaluation.results.get("timing") or {}
        count = (evaluation.results.get("samples") or {}).get("count")
        tokens = (evaluation.results.get("settings") or {}).get("max_new_tokens")
        if timing.get("generation_s") and count and tokens:
            return timing["generation_s"] / (count * tokens), "measured by the last evaluation here"
    return FALLBACK_S_PER_TOKEN, "about 100 tokens/s, measured for the bundled model on 2 CPU cores"


def on_estimate(refs: list[str], suites: list[str], limit: float | None, max_new_tokens: float) -> str:
    """Before Evaluate: roughly how long it will take (pairs already evaluated are cached and instant)."""
    try:
        per_part = None if limit in (None, "", 0) else int(limit)
        prompts = sum(min(n, per_part or n) for s in suites or [] for n in SUITE_PROMPTS.get(s, ()))
        models = len(refs or [])
        if not models or not prompts:
            return "Pick checkpoints and suites to see how long evaluating them takes."
        per_token, source = seconds_per_token()
        seconds = models * prompts * int(max_new_tokens or 1) * per_token
        return (
            f"Estimate: {models} model(s) × {prompts} prompts × up to {int(max_new_tokens)} tokens ≈ "
            f"{jv.clock(seconds)} at most ({source}); answers that stop early and cached pairs take less."
        )
    except Exception:
        return ""


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
    from storage.checkpoints import checkpoint_infos
    from ui.figures import headline_figure, steps_figure, tradeoff_figure, type_delta_figure

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
        figures = [
            headline_figure(headline_values(rows)) if rows else None,
            type_delta_figure(deltas, base_label) if deltas else None,
            tradeoff_figure(trade.points) if trade and trade.points else None,
            steps_figure(trade.points) if trade and trade.points else None,
        ]
        return [
            gr.update(value={"headers": headers, "data": cells}, visible=bool(rows)),
            *[gr.update(value=f, visible=f is not None) for f in figures],
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
            # The evaluate job's own bounds, so the widget refuses what submit would (0 = empty = all prompts).
            limit = gr.Number(
                value=DEFAULT_LIMIT,
                precision=0,
                minimum=0,
                maximum=config_bounds(EvaluateConfig, "limit")[1],
                label="Prompts per suite part (empty = all)",
                elem_id="compare-limit",
            )
            low, high = config_bounds(EvaluateConfig, "max_new_tokens")
            max_new_tokens = gr.Number(
                value=256,
                precision=0,
                minimum=low,
                maximum=high,
                label=f"Max new tokens (greedy, {low:,}..{high:,})",
                elem_id="compare-max-tokens",
            )
            rm = gr.Dropdown(
                [("none: score hard constraints only", "")], value="", label="Reward model for soft constraints"
            )
        rm_quality = gr.Textbox(
            value="No reward model: soft constraints are not scored.",
            show_label=False,
            interactive=False,
            elem_id="compare-rm-quality",
        )
        estimate = gr.Textbox(show_label=False, interactive=False, elem_id="compare-estimate")
        with gr.Row():
            quick = gr.Button("Quick look: 10 prompts, 64 tokens", size="sm", elem_id="compare-quick")
            evaluate = gr.Button("Evaluate", variant="primary", interactive=not locked, elem_id="compare-evaluate")
            cancel = gr.Button("Cancel", variant="stop", interactive=False, elem_id="compare-cancel")
        eval_bar = gr.HTML(visible=False, elem_id="compare-eval-bar")
        eval_status = gr.Textbox(show_label=False, interactive=False, elem_id="compare-eval-status")
    with gr.Row():
        suite = gr.Dropdown(list(SUITES), value=IF_SUITE, label="Suite to compare on", elem_id="compare-suite")
        mode = gr.Radio([LOOSE, STRICT], value=LOOSE, label="Per-type pass rates")
        show = gr.Button("Show comparison", variant="primary", elem_id="compare-show")
    note = gr.Textbox(
        value="No comparison yet: pick checkpoints above and press Evaluate (an evaluate job); the metrics table "
        "and charts appear here when it finishes. Already evaluated? Press Show comparison.",
        show_label=False,
        interactive=False,
        elem_id="compare-note",
    )
    table = gr.Dataframe(
        headers=["metric", "model"],
        interactive=False,
        wrap=True,
        visible=False,
        label="Metrics (%, 95 % intervals)",
        elem_id="compare-table",
    )
    with gr.Row():
        headline_plot = gr.Plot(show_label=False, visible=False, elem_id="compare-headline")
        delta_plot = gr.Plot(show_label=False, visible=False, elem_id="compare-deltas")
    with gr.Row():
        tradeoff_plot = gr.Plot(show_label=False, visible=False, elem_id="compare-tradeoff")
        steps_plot = gr.Plot(show_label=False, visible=False, elem_id="compare-steps")
    ood_view.build(targets, baseline, [show.click, eval_done.change])  # in-domain vs out-of-domain
    votes_fn, votes_outputs = arena_view.build(targets, rm, composed)
    timer = gr.Timer(1.5, active=False)

    gr.on([tab.select, refresh.click, demo.load], on_open, targets, [targets, rm], **QUICK)
    gr.on([tab.select, demo.load], votes_fn, None, votes_outputs, **PRIVATE)
    targets.change(on_baseline_choices, [targets, baseline], baseline, **QUICK)
    result_outputs = [table, headline_plot, delta_plot, tradeoff_plot, steps_plot, note]
    show.click(on_results, [targets, baseline, suite, mode], result_outputs, **PRIVATE)
    evaluate.click(on_evaluate, [targets, suites, limit, max_new_tokens, rm], [eval_status, eval_job, timer], **PRIVATE)
    timer.tick(on_eval_tick, eval_job, [eval_status, timer, eval_done, eval_bar, cancel], **QUICK)
    cancel.click(on_cancel_eval, eval_job, eval_status, **PRIVATE)
    quick.click(lambda: (10, 64), None, [limit, max_new_tokens], **QUICK)
    gr.on(
        [targets.change, suites.change, limit.change, max_new_tokens.change, tab.select],
        on_estimate,
        [targets, suites, limit, max_new_tokens],
        estimate,
        **QUICK,
    )
    rm.change(quality_note, rm, rm_quality, **QUICK)
    eval_done.change(on_results, [targets, baseline, suite, mode], result_outputs, **PRIVATE)
