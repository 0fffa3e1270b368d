"""Train tab: preset or full config form → queue the dataset → RM → GRPO pipeline; watch the job live.

The watch panel re-reads storage on every gr.Timer tick, so reloading the page (or opening it elsewhere)
shows the running job again; nothing about a job lives only in this page's memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from lab.errors import LabError
from storage.models import ACTIVE_STATUSES
from storage.runs import get_run
from training.jobs import cancel_job, resume_job
from training.pipeline import STAGES, default_stages_note, list_presets, load_preset, submit_pipeline
from training.rm_quality import launch_warnings
from ui import config_form as form
from ui import experiment_view as ev
from ui import job_view as jv
from ui.charts import CHARTS, run_figures
from ui.errors import to_ui_error
from ui.events import PRIVATE, QUICK
from ui.settings import check_can_change, check_can_submit, read_only

REFRESH_S = 1.5
FORM_COLUMNS = 2
DEFAULT_PRESET = "cpu-smoke"


def _preset_or_first() -> str:
    presets = list_presets()
    return DEFAULT_PRESET if DEFAULT_PRESET in presets else (presets[0] if presets else "")


def on_preset(preset: str, specs: list[form.FieldSpec]) -> list[Any]:
    """Fill the form from a preset: description, its stages, every field, and the CLI command."""
    try:
        values = form.preset_values(preset)
        stages = form.preset_stages(preset)
        loaded = load_preset(preset)
        note = default_stages_note(loaded)
        description = loaded.description + (f"\n\nDefault stages: {note}" if note else "")
    except Exception as error:
        raise to_ui_error(error, "Loading the preset") from None
    widgets = [form.display(spec, values[spec.stage][spec.name]) for spec in specs]
    return [description, stages, form.cli_command(preset, stages, {}), *widgets]


def on_form(preset: str, stages: list[str], name: str, specs: list[form.FieldSpec], *raw: Any) -> str:
    """The CLI preview; a field that does not parse yet is left out of it and named below it (the command of
    everything else stays in view)."""
    ok = [_parses(spec, value) for spec, value in zip(specs, raw, strict=True)]
    good = [(spec, value) for spec, value, fine in zip(specs, raw, ok, strict=True) if fine]
    command = form.cli_command(
        preset, stages, form.overrides(preset, stages, [s for s, _ in good], [v for _, v in good]), name or ""
    )
    bad = [f"{spec.stage}.{spec.name}" for spec, fine in zip(specs, ok, strict=True) if not fine]
    return command + (f"\n# not valid yet: {', '.join(bad)}" if bad else "")


def _parses(spec: form.FieldSpec, value: Any) -> bool:
    try:
        form.parse(spec, value)
        return True
    except (LabError, TypeError, ValueError):
        return False


def on_launch(preset: str, stages: list[str], name: str, specs: list[form.FieldSpec], *raw: Any) -> tuple[str, str]:
    try:
        if not stages:
            raise LabError(f"tick at least one of {', '.join(STAGES)}", field="stages")
        check_can_submit()
        changes = form.overrides(preset, stages, specs, raw)
        jobs = submit_pipeline(preset, stages, changes, name=(name or "").strip() or None)
    except Exception as error:
        raise to_ui_error(error, "Launch") from None
    queued = ", ".join(f"{job.kind} = job {job.id} (run {job.run_id})" for job in jobs)
    command = form.cli_command(preset, stages, changes, name or "")
    warnings = [w for job in jobs for w in launch_warnings(job.kind, job.config)]
    note = "".join(f"\nWarning: {w}" for w in warnings)
    return f"Queued {queued}. The panel on the right follows the running job.{note}", command


def on_experiment(
    preset: str, ticked: list[str], custom: str, name: str, specs: list[form.FieldSpec], *raw: Any
) -> tuple[str, str]:
    """Queue an experiment: this form's preset and changes are every variant's base recipe."""
    try:
        check_can_submit()
        overrides = form.set_items(form.overrides(preset, STAGES, specs, raw))
        variants = ev.variants_from(ticked, custom)
        job = ev.submit(preset, variants, overrides, (name or "").strip() or None)
    except Exception as error:
        raise to_ui_error(error, "Experiment") from None
    message = (
        f"Queued experiment job {job.id} (run {job.run_id}): {len(variants)} variant(s) of {preset}. Each stage runs "
        "as its own run; the Runs tab shows the ablation table of run "
        f"{job.run_id} as the variants finish."
    )
    return message, ev.cli_command(preset, variants, overrides)


def _buttons(job: Any) -> tuple[Any, Any]:
    locked = read_only()
    active = job is not None and job.status in ACTIVE_STATUSES
    resumable = job is not None and job.resumable and not locked
    if resumable:
        resumable = job_is_newest(job)
    return gr.update(interactive=active and not locked), gr.update(interactive=resumable)


def job_is_newest(job: Any) -> bool:
    from storage.jobs import list_jobs

    newest = list_jobs(run_id=job.run_id, limit=1)
    return bool(newest) and newest[0].id == job.id


def job_cli(job: Any) -> str:
    if job is None:
        return ""
    return f"python -m training logs {job.id} --follow    # or: show {job.id} · cancel {job.id} · resume {job.id}"


def refresh(choice: str, key: Any, smoothing: float) -> list[Any]:
    """One tick: progress, stages, buttons, log and queue always; charts and samples only when storage changed.
    Every read is bounded (thinned curves, a few newest samples), so a tick costs O(points shown)."""
    try:
        job = jv.watched_job(choice)
        progress = jv.progress_of(job)
        runs = jv.pipeline_runs(job.run_id) if job is not None else {}
        stages, where = jv.stage_rows(runs)
        new_key = (jv.refresh_key(job, runs), smoothing)
        cancel, resume = _buttons(job)
        dataset_run = runs.get("dataset")
        head = [
            jv.progress_bar_html(progress, job.status if job else ""),
            progress.text + (f" · {where}" if where and len(runs) > 1 else ""),
            stages,
            gr.update(visible=dataset_run is not None, value=f"Preview the dataset (run {dataset_run})"),
            dataset_run,
            job_cli(job),
            cancel,
            resume,
            jv.log_tail(job),
            jv.queue_table(),
        ]
        if new_key == key:
            return [*head, *[gr.skip()] * (len(CHARTS) + 2), key]
        grpo_run = runs.get("grpo")
        samples = jv.samples_table(grpo_run if grpo_run is not None else (job.run_id if job else None))
        status_of = {run_id: get_run(run_id).status for run_id in runs.values()}
        figures, empty_note = run_figures(runs, smoothing, status_of)
        note = gr.update(value=empty_note, visible=bool(empty_note))
        return [*head, *figures, note, samples, new_key]
    except Exception as error:
        raise to_ui_error(error, "Refreshing the job view") from None


def on_cancel(choice: str) -> str:
    try:
        check_can_change()
        job = jv.watched_job(choice)
        if job is None:
            raise LabError("there is no job to cancel", field="job")
        cancel_job(job.id)
        later = jv.downstream_queued(job.run_id)
        for waiting in later:
            cancel_job(waiting.id)
        extra = f" and {len(later)} queued stage(s) waiting for it" if later else ""
        return f"Cancel requested for job {job.id}{extra}: it saves what it has and stops."
    except Exception as error:
        raise to_ui_error(error, "Cancel") from None


def on_resume(choice: str) -> str:
    try:
        check_can_change()
        job = jv.watched_job(choice)
        if job is None:
            raise LabError("there is no job to resume", field="job")
        check_can_submit()
        new = resume_job(job.id)
        return f"Resuming job {job.id} as job {new.id} (attempt {new.attempt}); it continues from its last checkpoint."
    except Exception as error:
        raise to_ui_error(error, "Resume") from None


def watch_menu(choice: str | None = None) -> Any:
    choices = jv.watch_choices()
    values = {value for _, value in choices}
    return gr.update(choices=choices, value=choice if choice in values else jv.AUTO)


def build(demo: gr.Blocks, tab: gr.Tab) -> TrainHandles:
    """Render the Train tab inside `tab`; returns its timer, which runs while the tab is open (app.py pauses it
    when another tab opens)."""
    locked = read_only()
    preset_name = _preset_or_first()
    specs = form.all_fields()
    # The form opens on the preset's values, rendered into the page: filling it in a load event instead raced what
    # the user typed meanwhile (the load's answer could land after a field was edited and overwrite it).
    try:
        about, preset_stages, preset_cli, *shown = on_preset(preset_name, specs) if preset_name else ["", STAGES, ""]
    except gr.Error as error:  # a broken preset file must not stop the app: the form opens on the fields' defaults
        about, preset_stages, preset_cli, shown = f"This preset cannot be loaded: {error.message}", STAGES, "", []
    if locked:
        gr.Markdown("This instance is **read-only**: you can watch jobs, but launching and cancelling are off.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            preset = gr.Dropdown(list_presets(), value=preset_name, label="Preset", elem_id="train-preset")
            description = gr.Textbox(
                value=about, label="About this preset", lines=3, interactive=False, elem_id="train-about"
            )
            stages = gr.CheckboxGroup(
                list(STAGES),
                value=list(preset_stages),
                label="Stages to run (each needs the one before, unless you point it at stored output)",
                elem_id="train-stages",
            )
            name = gr.Textbox(label="Run name (optional)", placeholder=preset_name, elem_id="train-name")
            launch = gr.Button("Launch", variant="primary", interactive=not locked, elem_id="train-launch")
            launch_message = gr.Textbox(label="Launch status", interactive=False, elem_id="train-launch-message")
            cli = gr.Textbox(
                value=preset_cli,
                label="Equivalent CLI command",
                lines=2,
                interactive=False,
                buttons=["copy"],
                elem_id="train-cli",
            )
            with gr.Accordion("Experiment: this recipe under several variants (ablations)", open=False):
                gr.Markdown(
                    "Trains and evaluates each variant of the preset and the changes below on the same held-out "
                    "suites and seeds, then builds the ablation table (Runs tab). Stages two variants share run once."
                )
                variants = gr.CheckboxGroup(
                    ev.VARIANT_CHOICES, value=ev.DEFAULT_VARIANTS, label="Variants", elem_id="train-exp-variants"
                )
                custom = gr.Textbox(
                    label="Your own variants, one per line: NAME: STAGE.FIELD=VALUE, ... ('-reward_model' drops it)",
                    placeholder="long: grpo.max_completion_length=128",
                    lines=2,
                    elem_id="train-exp-custom",
                )
                experiment = gr.Button("Launch experiment", interactive=not locked, elem_id="train-exp-launch")
            gr.Markdown("Every field of each stage's config (the preset fills them; what you change is sent):")
            widgets = []
            for stage in STAGES:
                with gr.Accordion(form.STAGE_TITLES[stage], open=False, elem_id=f"train-section-{stage}"):
                    mine = [spec for spec in specs if spec.stage == stage]
                    for i in range(0, len(mine), FORM_COLUMNS):
                        with gr.Row():
                            widgets += [
                                form.make_widget(spec, shown[specs.index(spec)] if shown else None)
                                for spec in mine[i : i + FORM_COLUMNS]
                            ]
        with gr.Column(scale=3):
            with gr.Row():
                watch = gr.Dropdown(
                    [("auto: follow the running job", jv.AUTO)],
                    value=jv.AUTO,
                    label="Watching",
                    scale=4,
                    elem_id="train-watch",
                )
                smoothing = gr.Slider(0, 0.95, value=0.0, step=0.05, label="Smoothing", scale=1)
            bar = gr.HTML(jv.progress_bar_html(jv.Progress(None, ""), ""), elem_id="train-bar-html")
            progress = gr.Textbox(show_label=False, interactive=False, elem_id="train-progress")
            stages_table = gr.Dataframe(
                headers=jv.STAGE_HEADERS,
                interactive=False,
                label="Pipeline stages",
                # Wide enough for "reward_model", "succeeded" and "progress" (narrower ones were cut to "pro…");
                # a long "waiting for job 12 (…)" wraps in the last column.
                column_widths=["12%", "20%", "7%", "16%", "15%", "30%"],
                wrap=True,
                elem_id="train-stages-table",
            )
            dataset_run = gr.State(None)
            preview = gr.Button("Preview the dataset", size="sm", visible=False, elem_id="train-preview-dataset")
            with gr.Row():
                cancel = gr.Button("Cancel", variant="stop", interactive=False, elem_id="train-cancel")
                resume = gr.Button("Resume", interactive=False, elem_id="train-resume")
            action = gr.Textbox(label="Cancel / resume", interactive=False, elem_id="train-action")
            job_cli_box = gr.Textbox(label="This job from the CLI", interactive=False, elem_id="train-job-cli")
            charts_note = gr.Textbox(
                label="Charts still waiting", lines=2, interactive=False, visible=False, elem_id="train-charts-note"
            )
            plots = []
            for i in range(0, len(CHARTS), 2):
                with gr.Row():
                    plots += [
                        gr.Plot(show_label=False, visible=False, elem_id=f"train-chart-{c.key}")
                        for c in CHARTS[i : i + 2]
                    ]
            samples = gr.Dataframe(
                headers=jv.SAMPLE_HEADERS,
                interactive=False,
                column_widths=["7%", "8%", "30%", "33%", "22%"],
                max_chars=400,
                wrap=True,
                max_height=420,
                label="Recent completions (newest first) with their breakdowns",
                elem_id="train-samples",
            )
            log = gr.Textbox(label="Log (tail)", lines=12, max_lines=12, interactive=False, elem_id="train-log")
            queue = gr.Dataframe(
                headers=jv.QUEUE_HEADERS, interactive=False, label="Queue (running and waiting)", elem_id="train-queue"
            )
    key = gr.State(None)
    timer = gr.Timer(REFRESH_S, active=False)  # app.py turns it on while the tab is visible

    preset_outputs = [description, stages, cli, *widgets]
    preset.change(lambda p: on_preset(p, specs), preset, preset_outputs, **QUICK)
    gr.on(
        [w.input for w in widgets] + [stages.input, name.input],
        lambda p, s, n, *raw: on_form(p, s, n, specs, *raw),
        [preset, stages, name, *widgets],
        cli,
        # Gradio's default trigger_mode "once" drops an edit made while the previous preview is still computing,
        # so quick typing in two fields left the second out of the command; "always_last" runs the newest one after.
        trigger_mode="always_last",
        **QUICK,
    )
    launch.click(
        lambda p, s, n, *raw: on_launch(p, s, n, specs, *raw),
        [preset, stages, name, *widgets],
        [launch_message, cli],
        **PRIVATE,
    ).success(lambda: watch_menu(jv.AUTO), None, watch, **QUICK)
    experiment.click(
        lambda p, t, c, n, *raw: on_experiment(p, t, c, n, specs, *raw),
        [preset, variants, custom, name, *widgets],
        [launch_message, cli],
        **PRIVATE,
    ).success(lambda: watch_menu(jv.AUTO), None, watch, **QUICK)
    refresh_outputs = [
        bar, progress, stages_table, preview, dataset_run, job_cli_box, cancel, resume, log, queue, *plots,
        charts_note, samples, key,
    ]  # fmt: skip
    timer.tick(refresh, [watch, key, smoothing], refresh_outputs, **QUICK)
    watch.change(refresh, [watch, gr.State(None), smoothing], refresh_outputs, **QUICK)
    smoothing.release(refresh, [watch, gr.State(None), smoothing], refresh_outputs, **QUICK)
    cancel.click(on_cancel, watch, action, **PRIVATE)
    resume.click(on_resume, watch, action, **PRIVATE).success(lambda: watch_menu(jv.AUTO), None, watch, **QUICK)
    demo.load(lambda: watch_menu(jv.AUTO), None, watch, **QUICK)
    tab.select(lambda c: (watch_menu(c), gr.Timer(active=True)), watch, [watch, timer], **QUICK)
    picker_widgets = [w for w, s in zip(widgets, specs, strict=True) if (s.stage, s.name) in form.PICKERS]

    def fill_pickers() -> list[Any]:
        # Choices only: sending the values back would overwrite what the user typed while this was in flight.
        kinds = [form.PICKERS[(s.stage, s.name)] for s in specs if (s.stage, s.name) in form.PICKERS]
        return [gr.update(choices=form.picker_choices(k)) for k in kinds]

    gr.on([demo.load, tab.select], fill_pickers, None, picker_widgets, **QUICK)
    return TrainHandles(timer, preview, dataset_run)


@dataclass(frozen=True)
class TrainHandles:
    """What app.py wires across tabs: the refresh timer, and the dataset-preview button with its run id."""

    timer: gr.Timer
    preview: gr.Button
    dataset_run: gr.State
