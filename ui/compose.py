"""Compose & score tab: task + typed constraints → prompt and curriculum; generate or paste a response → breakdown.

Model and user text only ever go into Textbox / Dataframe / Code cells (shown as text, never as markup).
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from lab.constraints.ifeval_modes import STRICT, VERDICT_MODES
from lab.constraints.registry import get_type
from lab.models import DEFAULT_MODEL_SPEC
from lab.seeds import load_seed_tasks
from ui import compose_state as cs
from ui.choices import generation_models, reward_models
from ui.errors import to_ui_error
from ui.events import MODEL, PRIVATE, QUICK
from ui.playground import STOPPED
from ui.playground import generate as stream_answer
from ui.rm_inspector import quality_note
from ui.sampling_widgets import MAX_NEW_TOKENS, SEED, TEMPERATURE, TOP_P, sampling_widgets
from ui.scoring import BREAKDOWN_HEADERS, BREAKDOWN_WIDTHS, breakdown_figure, score_response, soft_scorer_for


def _slot_updates(type_id: str) -> list[Any]:
    slots = cs.slots_for(type_id) if type_id else []
    updates = []
    for i in range(cs.MAX_SLOTS):
        slot = slots[i] if i < len(slots) else None
        for kind in cs.SLOT_KINDS:
            if slot is None or slot.widget != kind:
                updates.append(gr.update(visible=False))
                continue
            extra = {"choices": list(slot.choices)} if kind == "choice" else {}
            updates.append(gr.update(visible=True, label=slot.label, info=slot.info, value=slot.value, **extra))
    return updates


def on_type(type_id: str) -> list[Any]:
    try:
        if not type_id:
            return [""] + _slot_updates("")
        ctype = get_type(type_id)
        how = "checked by code" if ctype.kind == "hard" else "scored by a reward model"
        return [f"{ctype.kind} constraint, {how}. Example: {cs.example_text(type_id)}"] + _slot_updates(type_id)
    except Exception as error:
        raise to_ui_error(error, "Picking the constraint") from None


def _raw(values: tuple[Any, ...]) -> list[dict[str, Any]]:
    n = len(cs.SLOT_KINDS)
    return [dict(zip(cs.SLOT_KINDS, values[i * n : (i + 1) * n], strict=True)) for i in range(cs.MAX_SLOTS)]


def on_add(items: list, task: str, type_id: str, *slot_values: Any) -> tuple[list, str]:
    try:
        return cs.add_item(items, type_id, cs.read_params(type_id, _raw(slot_values)), task)
    except Exception as error:
        raise to_ui_error(error, "Adding the constraint") from None


def on_add_free(items: list, task: str, text: str) -> tuple[list, str, str]:
    try:
        new, message = cs.add_free_text(items, text, task)
        return new, message, ""
    except Exception as error:
        raise to_ui_error(error, "Adding the constraint") from None


def derived(items: list, task: str) -> tuple[Any, ...]:
    """Everything that follows from the list and the task: table, position menu, prompt, curriculum."""
    try:
        positions = [str(i + 1) for i in range(len(items))]
        rows, note = cs.curriculum_table(items, task)
        pick = gr.update(choices=positions, value=positions[-1] if positions else None)
        return cs.items_table(items, task), pick, cs.preview(items, task), rows, note
    except Exception as error:
        raise to_ui_error(error, "Composing the prompt") from None


def on_move(items: list, position: str | None, delta: int) -> list:
    if not position:
        return items
    return cs.move_item(items, int(position), delta)


def on_remove(items: list, position: str | None) -> list:
    try:
        return cs.remove_item(items, int(position or 0))
    except Exception as error:
        raise to_ui_error(error, "Removing the constraint") from None


def on_score(items: list, task: str, response: str, mode: str, rm_path: str) -> tuple[Any, ...]:
    try:
        row = cs.compose_row(items, task)
        view = score_response(row, response or "", hard_mode=mode, soft_scorer=soft_scorer_for(rm_path or ""))
        return view.table, view.aggregate, breakdown_figure(view.breakdown), view.thinking, view.answer
    except Exception as error:
        raise to_ui_error(error, "Scoring") from None


def on_generate(
    model: str,
    items: list,
    task: str,
    max_new_tokens: float,
    temperature: float,
    top_p: float,
    seed: float,
    progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio injects it by this default)
) -> Iterator[tuple[str, str]]:
    try:
        prompt = cs.compose_row(items, task)["prompt"]
    except Exception as error:
        raise to_ui_error(error, "Generation") from None
    yield from stream_answer(model, prompt, max_new_tokens, temperature, top_p, seed, False, progress)


def on_export(items: list, task: str) -> tuple[str, str]:
    """The row as pretty JSON to read, and a one-line .jsonl file to download (appendable to a dataset file)."""
    try:
        row = cs.compose_row(items, task)
    except Exception as error:
        raise to_ui_error(error, "Export") from None
    folder = Path(tempfile.mkdtemp(prefix="iflab-row-"))
    path = folder / "row.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return json.dumps(row, indent=2, ensure_ascii=False), str(path)


def random_task() -> str:
    return random.choice(load_seed_tasks()).task


def refresh_menus() -> tuple[Any, Any]:
    return gr.update(choices=generation_models()), gr.update(choices=reward_models())


def score_row(row: dict, response: str, hard_mode: str = STRICT) -> dict:
    """API: the breakdown of `response` to a dataset row (IFEval / curriculum shape), hard constraints only."""
    try:
        return score_response(row, response, hard_mode=hard_mode).breakdown
    except Exception as error:
        raise to_ui_error(error, "Scoring") from None


def list_status(items: list, task: str) -> str:
    """The status line after a move / remove / clear: the conflicts of what is left (never a removed row's)."""
    if not items:
        return "No constraints: pick a type and Add constraint."
    notes = [n for n in cs.conflict_notes(items, task) if n]
    return notes[-1] if notes else f"{len(items)} constraint(s), no conflicts."


def saved_state(items: list, task: str, response: str) -> dict[str, Any]:
    return {"items": list(items or []), "task": task or "", "response": response or ""}


def restore_state(saved: Any) -> tuple[Any, Any, Any]:
    """The task, constraints and response kept in the browser (gr.BrowserState), so a reload keeps them."""
    if not isinstance(saved, dict) or not isinstance(saved.get("items"), list):
        return gr.skip(), gr.skip(), gr.skip()
    items = [i for i in saved["items"] if isinstance(i, dict)]
    try:
        cs.items_table(items, str(saved.get("task") or ""))  # refuse a tampered or outdated list whole
    except Exception:
        return gr.skip(), gr.skip(), gr.skip()
    return items, str(saved.get("task") or ""), str(saved.get("response") or "")


def build(demo: gr.Blocks, tab: gr.Tab | None = None) -> tuple[gr.State, gr.Textbox]:
    """Render the Compose & score tab; returns (constraint list, task) for screens that reuse the prompt."""
    items = gr.State([])
    saved = gr.BrowserState(saved_state([], "", ""), storage_key="iflab-compose")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gr.Markdown("**1 · Task**")
            task = gr.Textbox(
                label="Task", lines=2, placeholder="Write a short note about the sea.", elem_id="compose-task"
            )
            seed_button = gr.Button("Random seed task", size="sm", elem_id="compose-random-task")
            gr.Markdown("**2 · Constraints** — pick a type (type to search), set its parameters, add it.")
            ctype = gr.Dropdown(
                choices=cs.type_choices(), value=None, label="Constraint type", filterable=True, elem_id="compose-type"
            )
            type_note = gr.Textbox(label="About this type", lines=2, interactive=False, elem_id="compose-type-note")
            slot_widgets: list[gr.components.Component] = []
            with gr.Row():
                for i in range(cs.MAX_SLOTS):
                    with gr.Column(min_width=160):
                        slot_widgets += [
                            gr.Number(precision=0, visible=False, elem_id=f"compose-p{i}-int"),
                            gr.Textbox(visible=False, elem_id=f"compose-p{i}-text"),
                            gr.Dropdown(choices=[], visible=False, elem_id=f"compose-p{i}-choice"),
                            gr.Checkbox(visible=False, elem_id=f"compose-p{i}-bool"),
                        ]
            add = gr.Button("Add constraint", variant="primary", elem_id="compose-add")
            with gr.Row():
                free_text = gr.Textbox(
                    label="Soft constraint in your own words",
                    placeholder="Sound like a tour guide.",
                    scale=4,
                    elem_id="compose-free-text",
                )
                add_free = gr.Button("Add", scale=1, elem_id="compose-add-free")
            message = gr.Textbox(label="Status", interactive=False, elem_id="compose-message")
            table = gr.Dataframe(
                headers=cs.ITEM_HEADERS,
                interactive=False,
                wrap=True,
                column_widths=["7%", "9%", "26%", "40%", "18%"],
                label="Constraints",
                elem_id="compose-list",
            )
            with gr.Row():
                pick = gr.Dropdown(choices=[], label="#", scale=1, min_width=80, elem_id="compose-pick")
                up = gr.Button("↑ Up", size="sm", elem_id="compose-up")
                down = gr.Button("↓ Down", size="sm", elem_id="compose-down")
                remove = gr.Button("Remove", size="sm", variant="stop", elem_id="compose-remove")
                clear = gr.Button("Clear all", size="sm", elem_id="compose-clear")
            gr.Markdown("**3 · Prompt**")
            prompt = gr.Textbox(
                label="Composed prompt", lines=4, interactive=False, buttons=["copy"], elem_id="compose-prompt"
            )
            with gr.Accordion("Curriculum L1..Ln", open=False):
                curriculum_note = gr.Textbox(show_label=False, interactive=False, elem_id="compose-curriculum-note")
                curriculum = gr.Dataframe(
                    headers=["level", "prompt"],
                    interactive=False,
                    wrap=True,
                    column_widths=["12%", "88%"],
                    elem_id="compose-curriculum",
                )
        with gr.Column(scale=1):
            gr.Markdown("**4 · Response** — generate one, or paste any text and score it.")
            with gr.Accordion("Generate with a model", open=False):
                model = gr.Dropdown(
                    choices=[(DEFAULT_MODEL_SPEC, DEFAULT_MODEL_SPEC)],
                    value=DEFAULT_MODEL_SPEC,
                    allow_custom_value=True,
                    label="Model or checkpoint",
                    elem_id="compose-model",
                )
                sampling = sampling_widgets("compose", [[MAX_NEW_TOKENS, TEMPERATURE], [TOP_P, SEED]])
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="compose-generate")
                    stop = gr.Button("Stop", variant="stop", elem_id="compose-stop")
                status = gr.Textbox(label="Generation status", interactive=False, elem_id="compose-status")
            response = gr.Textbox(
                label="Response",
                lines=8,
                placeholder="Paste a response here, or generate one above.",
                elem_id="compose-response",
            )
            with gr.Row():
                mode = gr.Radio(list(VERDICT_MODES), value=STRICT, label="Hard checks", elem_id="compose-mode")
                rm = gr.Dropdown(
                    choices=[("none: score hard constraints only", "")],
                    value="",
                    label="Reward model for soft constraints",
                    elem_id="compose-rm",
                )
            rm_quality = gr.Textbox(show_label=False, interactive=False, elem_id="compose-rm-quality")
            score = gr.Button("Score response", variant="primary", elem_id="compose-score")
            aggregate = gr.Textbox(label="Reward", interactive=False, elem_id="compose-aggregate")
            breakdown_table = gr.Dataframe(
                headers=BREAKDOWN_HEADERS,
                interactive=False,
                wrap=True,
                column_widths=BREAKDOWN_WIDTHS,
                label="Breakdown",
                elem_id="compose-breakdown",
            )
            chart = gr.Plot(label="Scores per constraint", elem_id="compose-chart")
            with gr.Accordion("Thinking (not checked; constraints apply to the answer after </think>)", open=False):
                thinking = gr.Textbox(show_label=False, lines=4, interactive=False, elem_id="compose-thinking")
            with gr.Accordion("Answer that was checked", open=False):
                answer = gr.Textbox(show_label=False, lines=4, interactive=False, elem_id="compose-answer")
            with gr.Accordion("Export the row (dataset format)", open=False):
                export = gr.Button("Export row", elem_id="compose-export")
                row_json = gr.Code(language="json", interactive=False, elem_id="compose-row-json")
                row_file = gr.File(label="row.jsonl", interactive=False, elem_id="compose-row-file")

    derived_outputs = [table, pick, prompt, curriculum, curriculum_note]
    seed_button.click(random_task, None, task, **QUICK).then(derived, [items, task], derived_outputs, **QUICK)
    task.change(derived, [items, task], derived_outputs, trigger_mode="always_last", **QUICK)
    ctype.change(on_type, ctype, [type_note, *slot_widgets], **QUICK)
    add.click(on_add, [items, task, ctype, *slot_widgets], [items, message], **QUICK).success(
        derived, [items, task], derived_outputs, **QUICK
    )
    add_free.click(on_add_free, [items, task, free_text], [items, message, free_text], **QUICK).success(
        derived, [items, task], derived_outputs, **QUICK
    )
    for button, fn in (
        (up, lambda it, p: on_move(it, p, -1)),
        (down, lambda it, p: on_move(it, p, +1)),
        (remove, on_remove),
        (clear, lambda it, p: []),
    ):
        button.click(fn, [items, pick], items, **QUICK).success(derived, [items, task], derived_outputs, **QUICK).then(
            list_status, [items, task], message, **QUICK
        )

    score_inputs = [items, task, response, mode, rm]
    score_outputs = [breakdown_table, aggregate, chart, thinking, answer]
    score.click(on_score, score_inputs, score_outputs, **PRIVATE)
    rm.change(quality_note, rm, rm_quality, **QUICK)
    mode.change(on_score, score_inputs, score_outputs, **PRIVATE)
    gen_inputs = [model, items, task, sampling.max_new_tokens, sampling.temperature, sampling.top_p, sampling.seed]
    event = generate.click(on_generate, gen_inputs, [response, status], **MODEL)
    event.success(on_score, score_inputs, score_outputs, **PRIVATE)
    stop.click(lambda: STOPPED, None, status, cancels=[event], **QUICK)  # not "Generating ..." forever
    export.click(on_export, [items, task], [row_json, row_file], **QUICK)
    demo.load(refresh_menus, None, [model, rm], **QUICK)
    if tab is not None:  # a long-lived page sees checkpoints and reward models trained since it opened
        tab.select(refresh_menus, None, [model, rm], **QUICK)
    gr.on([items.change, task.change, response.change], saved_state, [items, task, response], saved, **QUICK)
    demo.load(restore_state, saved, [items, task, response], **QUICK).then(
        derived, [items, task], derived_outputs, **QUICK
    )
    gr.api(score_row, api_name="score_row", concurrency_limit=None)
    return items, task
