"""The Runs tab's per-kind panels of an opened run: rollout inspector (grpo), dataset preview (dataset),
reward-model inspector (reward_model) and ablation table (experiment). Each panel is a gr.Tab shown only for its
kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui import dataset_preview as dp
from ui import experiment_view as ev
from ui import rm_inspector as rmi
from ui import rollouts as ro
from ui.errors import to_ui_error
from ui.events import PRIVATE, QUICK


@dataclass
class Panels:
    rollouts_tab: Any
    steps: Any
    dataset_tab: Any
    rm_tab: Any
    experiment_tab: Any
    outputs: list[Any]  # what open_panels fills, in order


def open_panels(run: Any) -> list[Any]:
    """Show the panel of the run's kind (filled) and hide the others."""
    grpo, dataset, rm = run.kind == "grpo", run.kind == "dataset", run.kind == "reward_model"
    out: list[Any] = [gr.update(visible=grpo)]
    steps = ro.steps_with_groups(run.id) if grpo else []
    out.append(gr.update(choices=steps, value=steps[-1] if steps else None))
    out += rollout_view(run.id, steps[-1] if steps else None, ro.FILTERS[0], None) if grpo else [gr.skip()] * 5
    out.append(gr.update(visible=dataset))
    out += dataset_view(run.id) if dataset else [gr.skip()] * 5
    out.append(gr.update(visible=rm))
    out += rm_view(run.id) if rm else [gr.skip()] * 3
    experiment = run.kind == "experiment"
    out.append(gr.update(visible=experiment))
    out += experiment_panel(run.id) if experiment else [gr.skip()] * 3
    return out


def experiment_panel(run_id: int) -> list[Any]:
    """[summary, ablation table, trade-off figure]."""
    try:
        found = ev.view(int(run_id))
    except Exception as error:  # the rest of the run (config, jobs, log) must still open
        return [f"The ablation table cannot be built: {error}", None, gr.update(value=None, visible=False)]
    table = {"headers": found["headers"], "data": found["rows"]} if found["rows"] else None
    figure = gr.update(value=found["figure"], visible=found["figure"] is not None)
    return [found["summary"], table, figure]


def rollout_view(run_id: Any, step: Any, which: str, picked: Any) -> list[Any]:
    """[note, groups table, caption, side-by-side table, histogram]."""
    try:
        if run_id in (None, "") or step in (None, ""):
            note = "No stored completions yet: a GRPO run stores whole groups every sample_every steps."
            return [note, [], "", gr.update(value=None), gr.update(value=None, visible=False)]
        groups = ro.step_groups(int(run_id), int(step))
        note = f"Step {step}: {len(groups)} prompt group(s). Click a group to see its completions side by side."
        if groups and not ro.has_advantages(groups):
            note += " (This run predates stored advantages: rewards only.)"
        caption, headers, rows = ro.group_view(groups, which, None if picked in (None, "") else int(picked))
        table = {"headers": headers, "data": rows} if rows else None
        figure = gr.update(value=ro.histogram(groups, int(step)), visible=bool(groups))
        return [note, ro.group_rows(groups, which), caption, table, figure]
    except Exception as error:
        raise to_ui_error(error, "Showing the rollouts") from None


def dataset_view(run_id: int) -> list[Any]:
    """[summary, rows, mix table, levels table, mix figure]."""
    try:
        found = dp.preview(int(run_id))
    except Exception as error:
        from lab.errors import LabError

        if isinstance(error, LabError):
            return [str(error), [], [], [], gr.update(value=None, visible=False)]
        raise to_ui_error(error, "Previewing the dataset") from None
    figure = gr.update(value=found["figure"], visible=True)
    return [found["summary"], found["rows"], found["mix"], found["levels"], figure]


def rm_view(run_id: int) -> list[Any]:
    """[summary, per-type table, pairs table]."""
    try:
        found = rmi.inspect(int(run_id))
    except Exception as error:
        raise to_ui_error(error, "Inspecting the reward model") from None
    return [found["summary"], found["types"], found["pairs"]]


def on_pick_group(evt: gr.SelectData) -> Any:
    values = evt.row_value or []
    return values[0] if values else gr.skip()


def build(opened: gr.State) -> Panels:
    """The three panels as tabs (inside the caller's gr.Tabs); `opened` holds the open run's id."""
    with gr.Tab("Rollouts", id="rollouts", visible=False, elem_id="runs-rollouts-tab") as rollouts_tab:
        with gr.Row():
            steps = gr.Dropdown([], label="Step", scale=1, elem_id="runs-rollout-step")
            which = gr.Radio(
                list(ro.FILTERS), value=ro.FILTERS[0], label="Show", scale=4, elem_id="runs-rollout-filter"
            )
        picked = gr.State(None)
        note = gr.Textbox(show_label=False, interactive=False, elem_id="runs-rollout-note")
        groups = gr.Dataframe(
            headers=ro.GROUP_HEADERS,
            interactive=False,
            wrap=True,
            max_height=300,
            max_chars=200,
            column_widths=["7%", "7%", "40%", "16%", "8%", "10%", "12%"],
            label="Prompt groups (click one)",
            elem_id="runs-rollout-groups",
        )
        caption = gr.Textbox(show_label=False, interactive=False, elem_id="runs-rollout-caption")
        side = gr.Dataframe(
            interactive=False, wrap=True, max_height=520, label="Side by side", elem_id="runs-rollout-side"
        )
        histogram = gr.Plot(show_label=False, visible=False, elem_id="runs-rollout-histogram")
    with gr.Tab("Dataset", id="dataset", visible=False, elem_id="runs-dataset-tab") as dataset_tab:
        summary = gr.Textbox(show_label=False, interactive=False, elem_id="runs-dataset-summary")
        with gr.Row(equal_height=False):
            levels = gr.Dataframe(headers=dp.LEVEL_HEADERS, interactive=False, label="Rows per level", scale=1)
            mix = gr.Dataframe(
                headers=dp.MIX_HEADERS, interactive=False, max_height=320, label="Constraint-type mix", scale=2,
                elem_id="runs-dataset-mix",
            )  # fmt: skip
            mix_plot = gr.Plot(show_label=False, visible=False, scale=3, elem_id="runs-dataset-mix-plot")
        rows = gr.Dataframe(
            headers=dp.ROW_HEADERS,
            interactive=False,
            wrap=True,
            max_height=420,
            max_chars=300,
            column_widths=["5%", "6%", "8%", "26%", "55%"],
            label="Rows",
            elem_id="runs-dataset-rows",
        )
    with gr.Tab("Reward model", id="rm", visible=False, elem_id="runs-rm-tab") as rm_tab:
        rm_summary = gr.Textbox(show_label=False, interactive=False, elem_id="runs-rm-summary")
        types = gr.Dataframe(
            headers=rmi.TYPE_HEADERS, interactive=False, label="Held-out accuracy and AUC per soft type",
            elem_id="runs-rm-types",
        )  # fmt: skip
        pairs = gr.Dataframe(
            headers=rmi.PAIR_HEADERS,
            interactive=False,
            wrap=True,
            max_height=420,
            max_chars=300,
            column_widths=["8%", "14%", "10%", "9%", "24%", "35%"],
            label="Held-out pairs (misclassified first)",
            elem_id="runs-rm-pairs",
        )
    with gr.Tab("Experiment", id="experiment", visible=False, elem_id="runs-experiment-tab") as experiment_tab:
        experiment_summary = gr.Textbox(show_label=False, interactive=False, elem_id="runs-experiment-summary")
        ablation = gr.Dataframe(
            interactive=False, wrap=True, label="Ablation table (from the stored evaluations)",
            elem_id="runs-experiment-table",
        )  # fmt: skip
        tradeoff = gr.Plot(show_label=False, visible=False, elem_id="runs-experiment-tradeoff")
    rollout_outputs = [note, groups, caption, side, histogram]
    inputs = [opened, steps, which, picked]
    steps.input(lambda r, s, w, p: rollout_view(r, s, w, None), inputs, rollout_outputs, **PRIVATE)
    which.input(lambda r, s, w, p: rollout_view(r, s, w, None), inputs, rollout_outputs, **PRIVATE)
    groups.select(on_pick_group, None, picked, **QUICK).success(rollout_view, inputs, rollout_outputs, **PRIVATE)
    outputs = [
        rollouts_tab, steps, *rollout_outputs, dataset_tab, summary, rows, mix, levels, mix_plot, rm_tab,
        rm_summary, types, pairs, experiment_tab, experiment_summary, ablation, tradeoff,
    ]  # fmt: skip
    return Panels(rollouts_tab, steps, dataset_tab, rm_tab, experiment_tab, outputs)
