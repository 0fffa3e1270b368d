"""Compare tab, lower half: the same prompt to several checkpoints side by side (breakdown under each answer),
blind mode with votes A / B / tie / both bad, and the vote summary per pair of models.

The SideBySide object (which holds the hidden names in blind mode) stays in a server-side gr.State.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from evals.arena import SideBySide, record_vote, stream_side_by_side, vote_summary
from lab.errors import LabError
from lab.models import check_seed
from ui import compose_state as cs
from ui.errors import to_ui_error
from ui.events import MODEL, PRIVATE, QUICK
from ui.sampling_widgets import MAX_NEW_TOKENS, SEED, TEMPERATURE, sampling_widgets
from ui.scoring import BREAKDOWN_HEADERS, BREAKDOWN_WIDTHS, aggregate_line, breakdown_rows

MAX_ANSWERS = 4
VOTE_HEADERS = ["model", "other", "wins", "losses", "ties", "both bad", "win rate"]
CHOICE_WORDS = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both bad"}
SIDE_BY_SIDE_MAX_NEW_TOKENS = 128  # half the other screens' default: up to four answers, one after another
STREAM_EVERY_S = 0.25  # send the growing answers at most this often (each send redraws every column)


def _row(use_composed: bool, items: list, task: str, prompt: str) -> dict[str, Any]:
    if use_composed:
        if not items:
            raise LabError("the Compose & score tab has no constraints yet; add some or untick the box", "prompt")
        return cs.compose_row(items, task)
    if not (prompt or "").strip():
        raise LabError("type a prompt (or tick 'use the prompt composed in Compose & score')", field="prompt")
    return {"prompt": prompt.strip(), "instruction_id_list": [], "kwargs": [], "constraints": []}


def _slot_updates(answers: list[dict[str, Any]], done: bool = True) -> list[Any]:
    out: list[Any] = []
    writing = next((i for i, a in enumerate(answers) if not a["response"]), len(answers)) - 1
    for i in range(MAX_ANSWERS):
        if i >= len(answers):
            out += [gr.update(visible=False), "", "", "", []]
            continue
        a = answers[i]
        if done:
            reward = aggregate_line(a["breakdown"])
        else:  # one model after another: the last one with text is writing, the rest wait their turn
            reward = (
                "writing…"
                if i == max(writing, 0)
                else ("written; scored when all are done" if a["response"] else "waiting for its turn")
            )
        out += [
            gr.update(visible=True),
            a["label"],
            a["response"],
            reward,
            breakdown_rows(a["breakdown"]) if done else [],
        ]
    return out


def _shown(comparison: SideBySide) -> list[Any]:
    answers = comparison.public()
    if not comparison.done:
        note = f"Generating: one model after another ({len(answers)} in all), the answers grow as they are written."
        return [comparison, gr.update(visible=False), note, *_slot_updates(answers, done=False)]
    can_vote = len(answers) == 2
    note = "Blind: the names are hidden until you vote." if comparison.blind else ""
    if can_vote and not comparison.blind:
        note = "Vote for the better answer (votes are stored per pair of models)."
    return [comparison, gr.update(visible=can_vote), note, *_slot_updates(answers)]


def on_generate(
    refs: list[str],
    use_composed: bool,
    items: list,
    task: str,
    prompt: str,
    seed: float,
    temperature: float,
    max_new_tokens: float,
    blind: bool,
    rm_path: str,
) -> Iterator[list[Any]]:
    """The answers as they grow (at most every STREAM_EVERY_S), then scored with the vote buttons."""
    last_sent = 0.0
    try:
        refs = list(refs or [])
        if len(refs) > MAX_ANSWERS:
            raise LabError(f"pick at most {MAX_ANSWERS} checkpoints for side by side", field="checkpoints")
        stream = stream_side_by_side(
            _row(use_composed, items, task, prompt),
            refs,
            seed=check_seed(seed or 0),
            temperature=float(temperature),
            max_new_tokens=int(max_new_tokens),
            blind=bool(blind),
            reward_model=rm_path or None,
        )
        for comparison in stream:
            if comparison.done or time.monotonic() - last_sent >= STREAM_EVERY_S:
                last_sent = time.monotonic()
                yield _shown(comparison)
    except Exception as error:
        raise to_ui_error(error, "Side-by-side generation") from None


def on_vote(comparison: Any, choice: str) -> list[Any]:
    """Store the vote; the note and the columns' titles now name the models (blind mode hid them)."""
    try:
        if comparison is None:
            raise LabError("generate two answers first", field="vote")
        result = record_vote(comparison, choice)
    except Exception as error:
        raise to_ui_error(error, "Vote") from None
    names = ", ".join(f"{slot} = {label}" for slot, label in result.revealed.items())
    table, fig = votes_view()
    titles = [f"{a.slot}: {a.label}" for a in comparison.answers]
    titles += [gr.skip()] * (MAX_ANSWERS - len(titles))
    return [gr.update(visible=False), f"Vote stored ({CHOICE_WORDS[choice]}). {names}", table, fig, *titles]


def votes_view() -> tuple[list[list[Any]], Any]:
    from ui.figures import votes_figure

    pairs = vote_summary()
    rows = []
    for p in pairs:
        rate = p.first_win_rate
        rows.append(
            [
                p.first_label,
                p.second_label,
                p.first_wins,
                p.second_wins,
                p.ties,
                p.both_bad,
                "—" if rate is None else f"{100 * rate:.0f} %",
            ]
        )
    return rows, (votes_figure([p.tally() for p in pairs]) if pairs else None)


def build(targets: gr.Dropdown, rm: gr.Dropdown, composed: tuple[gr.State, gr.Textbox]) -> tuple[Any, list[Any]]:
    """Render the side-by-side panel; returns (refresh fn, its outputs) for when the tab opens."""
    items, task = composed
    comparison = gr.State(None)
    gr.Markdown("**Side by side** — same prompt, same seed, one answer per checkpoint (up to 4).")
    with gr.Row():
        use_composed = gr.Checkbox(
            value=False, label="Use the prompt composed in Compose & score", elem_id="compare-use-composed"
        )
        blind = gr.Checkbox(
            value=False, label="Blind (two checkpoints, names hidden until you vote)", elem_id="compare-blind"
        )
    prompt = gr.Textbox(label="Prompt", lines=3, elem_id="compare-prompt")
    sampling = sampling_widgets(
        "compare-arena", [[SEED, TEMPERATURE, MAX_NEW_TOKENS]], values={MAX_NEW_TOKENS: SIDE_BY_SIDE_MAX_NEW_TOKENS}
    )
    with gr.Row():
        generate = gr.Button("Generate side by side", variant="primary", elem_id="compare-generate")
        stop = gr.Button("Stop", variant="stop", elem_id="compare-stop", scale=0, min_width=90)
    note = gr.Textbox(show_label=False, interactive=False, elem_id="compare-arena-note")
    slots: list[Any] = []
    with gr.Row(equal_height=False):
        for i in range(MAX_ANSWERS):
            with gr.Column(visible=False, min_width=260) as column:
                label = gr.Textbox(show_label=False, interactive=False, elem_id=f"compare-answer-{i}-label")
                text = gr.Textbox(label="Answer", lines=8, interactive=False, elem_id=f"compare-answer-{i}")
                reward = gr.Textbox(label="Reward", interactive=False, elem_id=f"compare-answer-{i}-reward")
                table = gr.Dataframe(
                    headers=BREAKDOWN_HEADERS,
                    interactive=False,
                    wrap=True,
                    column_widths=BREAKDOWN_WIDTHS,
                    label="Breakdown",
                )
            slots += [column, label, text, reward, table]
    with gr.Row(visible=False) as vote_row:
        buttons = {c: gr.Button(w, elem_id=f"compare-vote-{c}") for c, w in CHOICE_WORDS.items()}
    votes = gr.Dataframe(headers=VOTE_HEADERS, interactive=False, label="Votes per pair", elem_id="compare-votes")
    votes_plot = gr.Plot(show_label=False, elem_id="compare-votes-plot")

    s = sampling
    inputs = [targets, use_composed, items, task, prompt, s.seed, s.temperature, s.max_new_tokens, blind, rm]
    event = generate.click(on_generate, inputs, [comparison, vote_row, note, *slots], **MODEL)
    # Cancelling closes the generator, which closes stream_generate: the model stops at its next step.
    stop.click(lambda: "Stopped; nothing was scored or stored.", None, note, cancels=[event], **QUICK)
    for choice, button in buttons.items():
        button.click(
            lambda c, ch=choice: on_vote(c, ch),
            comparison,
            [vote_row, note, votes, votes_plot, *slots[1::5]],
            **PRIVATE,
        )
    return votes_view, [votes, votes_plot]
