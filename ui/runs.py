"""Runs tab: every run with status, duration and a headline metric; filter and sort; details (config, jobs,
metrics, checkpoints); config diff of two runs; exports; delete with confirmation (its files too).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from lab.errors import LabError
from storage.metrics import metric_names, metric_series
from storage.runs import get_run
from ui import run_table as rt
from ui.charts import ChartSpec, figure
from ui.errors import to_ui_error
from ui.events import PRIVATE, QUICK
from ui.settings import check_can_change, read_only

KINDS = ("all", "dataset", "reward_model", "grpo", "evaluate", "generate")
STATUSES = ("all", "queued", "running", "succeeded", "failed", "cancelled", "interrupted")


def on_filter(kind: str, status: str, search: str, sort: str) -> list[list[Any]]:
    try:
        return [row.cells() for row in rt.run_rows(kind, status, search, sort)]
    except Exception as error:
        raise to_ui_error(error, "Listing runs") from None


def on_select_row(evt: gr.SelectData) -> Any:
    values = evt.row_value or []
    return values[0] if values else gr.skip()


def _run_id(value: Any) -> int:
    if value in (None, ""):
        raise LabError("pick a run: click a row of the table or type its number", field="run")
    return int(value)


def on_details(run_value: Any) -> list[Any]:
    try:
        run = get_run(_run_id(run_value))
        names = metric_names(run.id)
        preferred = [n for n in ("reward", "rm/loss", "rm/batch_accuracy", "reward/mean") if n in names]
        chosen = preferred or names[:3]
        jobs = rt.jobs_rows(run.id)
        from storage.jobs import list_jobs

        last = list_jobs(run_id=run.id, limit=1)
        error = (last[0].error_traceback or last[0].error_message or "") if last else ""
        return [
            run.config,
            jobs,
            rt.metrics_rows(run.id),
            gr.update(choices=names, value=chosen),
            _metric_figure(run.id, chosen),
            rt.checkpoint_rows(run.id),
            error,
        ]
    except Exception as error:
        raise to_ui_error(error, "Showing the run") from None


def _metric_figure(run_id: int, names: list[str]) -> Any:
    spec = ChartSpec("runs", "Metrics", "", tuple(names), empty="pick metrics to plot")
    return figure(spec, metric_series(run_id, names, max_points=1000) if names else {})


def on_metrics(run_value: Any, names: list[str]) -> Any:
    try:
        return _metric_figure(_run_id(run_value), list(names or []))
    except Exception as error:
        raise to_ui_error(error, "Plotting") from None


def on_diff(a: Any, b: Any) -> list[list[str]]:
    try:
        rows = rt.config_diff(_run_id(a), _run_id(b))
        return rows or [["(no differences)", "", ""]]
    except Exception as error:
        raise to_ui_error(error, "Config diff") from None


def on_export(run_value: Any, what: str) -> str:
    try:
        run_id = _run_id(run_value)
        if what == "samples":
            return rt.export_samples(run_id)
        return rt.export_metrics(run_id, what)
    except Exception as error:
        raise to_ui_error(error, "Export") from None


def on_checkpoint_path(run_value: Any) -> str:
    try:
        rows = rt.checkpoint_rows(_run_id(run_value))
        return rows[-1][2] if rows else "(this run has no checkpoints)"
    except Exception as error:
        raise to_ui_error(error, "Checkpoint path") from None


def on_ask_delete(run_value: Any) -> tuple[Any, Any]:
    try:
        check_can_change()
        return gr.update(value=rt.delete_plan(_run_id(run_value)), visible=True), gr.update(visible=True)
    except Exception as error:
        raise to_ui_error(error, "Delete") from None


def on_confirm_delete(run_value: Any) -> tuple[Any, Any, str]:
    try:
        check_can_change()
        message = rt.delete_run_with_files(_run_id(run_value))
        return gr.update(visible=False), gr.update(visible=False), message
    except Exception as error:
        raise to_ui_error(error, "Delete") from None


def build(demo: gr.Blocks, tab: gr.Tab) -> None:
    """Render the Runs tab inside `tab` (its table refreshes whenever the tab is opened)."""
    with gr.Row():
        kind = gr.Dropdown(list(KINDS), value="all", label="Kind", elem_id="runs-kind")
        status = gr.Dropdown(list(STATUSES), value="all", label="Status", elem_id="runs-status")
        search = gr.Textbox(label="Search name or id", elem_id="runs-search")
        sort = gr.Dropdown(list(rt.SORTS), value="newest", label="Sort", elem_id="runs-sort")
        refresh = gr.Button("Refresh", size="sm", elem_id="runs-refresh")
    table = gr.Dataframe(
        headers=rt.RUN_HEADERS, interactive=False, wrap=True, max_height=360, label="Runs", elem_id="runs-table"
    )
    with gr.Row():
        selected = gr.Number(label="Run (click a row)", precision=0, elem_id="runs-selected", scale=1)
        show = gr.Button("Show details", variant="primary", elem_id="runs-show", scale=1)
    with gr.Row(equal_height=False):
        with gr.Column():
            config = gr.JSON(label="Config", elem_id="runs-config")
            jobs = gr.Dataframe(
                headers=["job", "attempt", "status", "progress", "took", "exit", "error"],
                interactive=False,
                wrap=True,
                label="Jobs (attempts)",
                elem_id="runs-jobs",
            )
            error = gr.Textbox(label="Last error", lines=3, max_lines=12, interactive=False, elem_id="runs-error")
        with gr.Column():
            metric_pick = gr.Dropdown([], multiselect=True, label="Metrics to plot", elem_id="runs-metric-pick")
            plot = gr.Plot(show_label=False, elem_id="runs-plot")
            latest = gr.Dataframe(
                headers=["metric", "step", "latest"], interactive=False, max_height=260, label="Latest metrics"
            )
    checkpoints = gr.Dataframe(
        headers=["checkpoint", "step", "path", "on disk", "meta"],
        interactive=False,
        wrap=True,
        label="Checkpoints",
        elem_id="runs-checkpoints",
    )
    with gr.Accordion("Export", open=False):
        with gr.Row():
            csv_button = gr.Button("Metrics CSV", size="sm")
            json_button = gr.Button("Metrics JSON", size="sm")
            samples_button = gr.Button("Samples JSONL", size="sm")
            path_button = gr.Button("Checkpoint path", size="sm")
        export_file = gr.File(label="Download", interactive=False, elem_id="runs-export-file")
        checkpoint_path = gr.Textbox(label="Newest checkpoint", interactive=False, buttons=["copy"])
    with gr.Accordion("Config diff of two runs", open=False):
        with gr.Row():
            run_a = gr.Number(label="Run A", precision=0, elem_id="runs-diff-a")
            run_b = gr.Number(label="Run B", precision=0, elem_id="runs-diff-b")
            diff_button = gr.Button("Diff", elem_id="runs-diff")
        diff = gr.Dataframe(headers=["field", "A", "B"], interactive=False, wrap=True, elem_id="runs-diff-table")
    with gr.Accordion("Delete", open=False):
        delete = gr.Button("Delete this run…", variant="stop", interactive=not read_only(), elem_id="runs-delete")
        confirm_text = gr.Textbox(show_label=False, interactive=False, visible=False, elem_id="runs-delete-plan")
        with gr.Row(visible=False) as confirm_row:
            confirm = gr.Button("Yes, delete it and its files", variant="stop", elem_id="runs-delete-confirm")
            keep = gr.Button("Keep it", elem_id="runs-delete-cancel")
        delete_message = gr.Textbox(show_label=False, interactive=False, elem_id="runs-delete-message")

    filters = [kind, status, search, sort]
    gr.on(
        [kind.change, status.change, sort.change, search.submit, refresh.click, tab.select, demo.load],
        on_filter,
        filters,
        table,
        **PRIVATE,
    )
    detail_outputs = [config, jobs, latest, metric_pick, plot, checkpoints, error]
    table.select(on_select_row, None, selected, **QUICK).success(on_details, selected, detail_outputs, **PRIVATE)
    gr.on([show.click, selected.submit], on_details, selected, detail_outputs, **PRIVATE)
    metric_pick.input(on_metrics, [selected, metric_pick], plot, **PRIVATE)
    for button, what in ((csv_button, "csv"), (json_button, "json"), (samples_button, "samples")):
        button.click(lambda r, w=what: on_export(r, w), selected, export_file, **PRIVATE)
    path_button.click(on_checkpoint_path, selected, checkpoint_path, **QUICK)
    diff_button.click(on_diff, [run_a, run_b], diff, **QUICK)
    delete.click(on_ask_delete, selected, [confirm_text, confirm_row], **QUICK)
    keep.click(lambda: (gr.update(visible=False), gr.update(visible=False)), None, [confirm_text, confirm_row], **QUICK)
    confirm.click(on_confirm_delete, selected, [confirm_text, confirm_row, delete_message], **PRIVATE).success(
        on_filter, filters, table, **QUICK
    )
