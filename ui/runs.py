"""Runs tab: every run with status, duration and a headline metric; filter and sort; details (config, jobs,
metrics, checkpoints); config diff of two runs; exports; delete with confirmation (its files too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from lab.errors import LabError
from storage.metrics import metric_names, metric_series
from storage.models import JobStatus
from storage.runs import get_run
from ui import run_inspectors as ri
from ui import run_overlay as ov
from ui import run_table as rt
from ui.charts import ChartSpec, figure
from ui.errors import to_ui_error
from ui.events import PRIVATE, QUICK
from ui.settings import check_can_change, read_only

KINDS = ("all", "dataset", "reward_model", "grpo", "evaluate", "generate", "experiment")
PANEL_OF_KIND = {"dataset": "dataset", "reward_model": "rm", "experiment": "experiment"}  # the tab a run opens on
STATUSES = ("all", *(s.value for s in JobStatus))


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
        raise LabError("open a run first: click a row of the table", field="run")
    return int(value)


def latest_first(rows: list[list[Any]]) -> list[list[Any]]:
    """Latest metrics with the headline curves first (not TRL's clip_ratio/* that sort first by name)."""
    rank = {name: i for i, name in enumerate(ov.PREFERRED)}
    return sorted(rows, key=lambda r: (rank.get(r[0], len(rank)), str(r[0])))


def on_open(run_value: Any) -> list[Any]:
    """Open a run: its header, overview (config, jobs, metrics, checkpoints) and the panel of its kind."""
    try:
        run = get_run(_run_id(run_value))
        names = metric_names(run.id)
        preferred = [n for n in ("reward", "rm/loss", "rm/batch_accuracy", "reward/mean") if n in names]
        chosen = preferred or names[:3]
        from storage.jobs import list_jobs

        last = list_jobs(run_id=run.id, limit=1)
        error = (last[0].error_traceback or last[0].error_message or "") if last else ""
        header = f"Run {run.id} · {run.kind} · {run.status} · {run.name}"
        return [
            header,
            gr.update(visible=True),
            gr.update(visible=False),
            run.config,
            rt.jobs_rows(run.id),
            latest_first(rt.metrics_rows(run.id)),
            gr.update(choices=names, value=chosen),
            _metric_figure(run.id, chosen),
            rt.checkpoint_rows(run.id),
            error,
            *ri.open_panels(run),
            gr.Tabs(selected=PANEL_OF_KIND.get(run.kind, "overview")),
        ]
    except Exception as error:
        raise to_ui_error(error, "Opening the run") from None


def _metric_figure(run_id: int, names: list[str]) -> Any:
    series = metric_series(run_id, names, max_points=1000) if names else {}
    if not series:
        return gr.update(value=None, visible=False)
    return gr.update(value=figure(ChartSpec("runs", "Metrics", "", tuple(names)), series), visible=True)


def on_metrics(run_value: Any, names: list[str]) -> Any:
    try:
        return _metric_figure(_run_id(run_value), list(names or []))
    except Exception as error:
        raise to_ui_error(error, "Plotting") from None


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


def on_ticks(run_ids: list[str] | None, metric: str | None, x_axis: str, smoothing: float) -> list[Any]:
    """Overlay of the ticked runs: [metric menu, note, plot, diff table]; an empty state says what to do."""
    try:
        ids = [int(r) for r in run_ids or []]
        choices = ov.metric_choices(ids)
        metric = ov.default_metric(choices, metric)
        menu = gr.update(choices=choices, value=metric)
        if not ids:
            note = "Tick two or more runs above to overlay their curves and compare their configs."
            return [menu, gr.update(value=note, visible=True), gr.update(visible=False), gr.update(visible=False)]
        fig = ov.overlay_figure(ids, metric, x_axis, smoothing) if metric else None
        headers, rows = ov.config_diff(ids) if len(ids) > 1 else (["field"], [])
        diff = gr.update(value={"headers": headers, "data": rows or [["(no differences)", *[""] * len(ids)]]})
        if fig is None:
            note = "None of the ticked runs has logged metrics yet; they appear as their jobs log steps."
            return [
                menu,
                gr.update(value=note, visible=True),
                gr.update(visible=False),
                diff | {"visible": len(ids) > 1},
            ]
        note = (
            gr.update(value="", visible=False)
            if len(ids) > 1
            else gr.update(value="Tick another run to overlay it and diff the configs.", visible=True)
        )
        return [menu, note, gr.update(value=fig, visible=True), diff | {"visible": len(ids) > 1}]
    except Exception as error:
        raise to_ui_error(error, "Overlaying runs") from None


def on_list(kind: str, status: str, search: str, sort: str, ticked: list[str] | None) -> tuple[Any, Any]:
    """The table and the overlay's run choices (ticked runs stay ticked while they are listed)."""
    rows = on_filter(kind, status, search, sort)
    return rows, tick_choices(rows, ticked)


def tick_choices(rows: list[list[Any]], ticked: list[str] | None) -> Any:
    choices = [(f"{r[0]} · {r[2]} · {r[1]}"[:70], str(r[0])) for r in rows]
    keep = [t for t in ticked or [] if t in {v for _, v in choices}]
    return gr.update(choices=choices, value=keep)


@dataclass(frozen=True)
class RunsHandles:
    """For app.py: `opened` holds the open run's id; `open_fn(opened) -> open_outputs` opens it (the Train tab's
    dataset preview and ?run=N links use it)."""

    opened: gr.State
    open_fn: Any
    open_outputs: list[Any]
    train_button: gr.Button


def build(demo: gr.Blocks, tab: gr.Tab) -> RunsHandles:
    """Render the Runs tab inside `tab` (its table refreshes whenever the tab is opened)."""
    with gr.Row():
        kind = gr.Dropdown(list(KINDS), value="all", label="Kind", elem_id="runs-kind")
        status = gr.Dropdown(list(STATUSES), value="all", label="Status", elem_id="runs-status")
        search = gr.Textbox(label="Search name or id", elem_id="runs-search")
        sort = gr.Dropdown(list(rt.SORTS), value="newest", label="Sort", elem_id="runs-sort")
        refresh = gr.Button("Refresh", size="sm", elem_id="runs-refresh")
    table = gr.Dataframe(
        headers=rt.RUN_HEADERS,
        interactive=False,
        wrap=True,
        max_height=360,
        column_widths=["6%", "20%", "11%", "10%", "13%", "8%", "8%", "24%"],
        label="Runs (click a row to open it)",
        elem_id="runs-table",
    )
    with gr.Accordion("Overlay runs: tick several to compare their curves and configs", open=True):
        with gr.Row():
            ticks = gr.CheckboxGroup([], label="Runs to overlay", scale=3, elem_id="runs-ticks")
            with gr.Column(scale=2):
                overlay_metric = gr.Dropdown([], label="Metric", elem_id="runs-overlay-metric")
                with gr.Row():
                    x_axis = gr.Radio(list(ov.X_AXES), value=ov.X_AXES[0], label="x", elem_id="runs-overlay-x")
                    overlay_smoothing = gr.Slider(0, 0.95, value=0.0, step=0.05, label="Smoothing")
        overlay_note = gr.Textbox(
            value="Tick two or more runs above to overlay their curves and compare their configs.",
            show_label=False,
            interactive=False,
            elem_id="runs-overlay-note",
        )
        with gr.Row(equal_height=False):
            overlay_plot = gr.Plot(show_label=False, visible=False, scale=3, elem_id="runs-overlay-plot")
            overlay_diff = gr.Dataframe(
                interactive=False, wrap=True, visible=False, max_height=380, scale=2,
                label="Config fields where the ticked runs differ", elem_id="runs-overlay-diff",
            )  # fmt: skip
    with gr.Group(visible=True) as empty_state:
        gr.Textbox(
            value="No run open. Click a row of the table to open it: config, jobs and metrics, plus the rollout "
            "inspector (GRPO), the dataset preview (dataset) or the held-out pairs (reward model). No runs yet? "
            "Launch a preset in the Train tab.",
            show_label=False,
            interactive=False,
            elem_id="runs-empty",
        )
        train_button = gr.Button("Go to Train", size="sm", elem_id="runs-go-train")
    opened = gr.State(None)
    with gr.Column(visible=False) as details:
        header = gr.Textbox(show_label=False, interactive=False, elem_id="runs-opened")
        with gr.Tabs() as panel_tabs:
            with gr.Tab("Overview", id="overview"):
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
                        error = gr.Textbox(
                            label="Last error", lines=3, max_lines=12, interactive=False, elem_id="runs-error"
                        )
                    with gr.Column():
                        metric_pick = gr.Dropdown(
                            [], multiselect=True, label="Metrics to plot", elem_id="runs-metric-pick"
                        )
                        plot = gr.Plot(show_label=False, visible=False, elem_id="runs-plot")
                        latest = gr.Dataframe(
                            headers=["metric", "step", "latest"], interactive=False, max_height=260,
                            label="Latest metrics", elem_id="runs-latest",
                        )  # fmt: skip
                checkpoints = gr.Dataframe(
                    headers=["checkpoint", "step", "path", "on disk", "meta"],
                    interactive=False,
                    wrap=True,
                    label="Checkpoints",
                    elem_id="runs-checkpoints",
                )
            panels = ri.build(opened)
        with gr.Accordion("Export", open=False):
            with gr.Row():
                csv_button = gr.Button("Metrics CSV", size="sm")
                json_button = gr.Button("Metrics JSON", size="sm")
                samples_button = gr.Button("Samples JSONL", size="sm")
                path_button = gr.Button("Checkpoint path", size="sm")
            export_file = gr.File(label="Download", interactive=False, elem_id="runs-export-file")
            checkpoint_path = gr.Textbox(label="Newest checkpoint", interactive=False, buttons=["copy"])
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
        on_list,
        [*filters, ticks],
        [table, ticks],
        **PRIVATE,
    )
    overlay_inputs = [ticks, overlay_metric, x_axis, overlay_smoothing]
    overlay_outputs = [overlay_metric, overlay_note, overlay_plot, overlay_diff]
    gr.on(
        [ticks.input, overlay_metric.input, x_axis.input, overlay_smoothing.release],
        on_ticks,
        overlay_inputs,
        overlay_outputs,
        trigger_mode="always_last",  # quick ticks: the last state wins, never a stale one
        **PRIVATE,
    )
    open_outputs = [header, details, empty_state, config, jobs, latest, metric_pick, plot, checkpoints, error]
    open_outputs += [*panels.outputs, panel_tabs]
    table.select(on_select_row, None, opened, **QUICK).success(on_open, opened, open_outputs, **PRIVATE)
    metric_pick.input(on_metrics, [opened, metric_pick], plot, **PRIVATE)
    for button, what in ((csv_button, "csv"), (json_button, "json"), (samples_button, "samples")):
        button.click(lambda r, w=what: on_export(r, w), opened, export_file, **PRIVATE)
    path_button.click(on_checkpoint_path, opened, checkpoint_path, **QUICK)
    delete.click(on_ask_delete, opened, [confirm_text, confirm_row], **QUICK)
    keep.click(lambda: (gr.update(visible=False), gr.update(visible=False)), None, [confirm_text, confirm_row], **QUICK)
    confirm.click(on_confirm_delete, opened, [confirm_text, confirm_row, delete_message], **PRIVATE).success(
        on_filter, filters, table, **QUICK
    )
    return RunsHandles(opened, on_open, open_outputs, train_button)
