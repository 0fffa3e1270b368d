"""Playground tab: pick a model, type a prompt, stream the response (always rendered as plain text)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from lab.errors import LabError
from lab.models import DEFAULT_MODEL_SPEC, load_model, stream_generate
from ui.choices import generation_models
from ui.errors import to_ui_error
from ui.events import MODEL, QUICK

MODEL_INFO = f"'{DEFAULT_MODEL_SPEC}' (built in, offline), a local checkpoint folder path, or a hub id 'org/name'"


def model_choices() -> list[tuple[str, str]]:
    """The bundled default first, then trained policy checkpoints, then checkpoint folders under $LAB_HOME/models."""
    return generation_models()


def generate(
    model_spec: str,
    prompt: str,
    max_new_tokens: float,
    temperature: float,
    top_p: float,
    seed: float,
    trust_remote_code: bool,
    progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (gradio injects it by this default)
) -> Iterator[tuple[str, str]]:
    """Stream (response so far, status line) for one prompt."""
    try:
        if not (prompt or "").strip():
            raise LabError("prompt is empty; type what the model should answer.", field="prompt")
        started = time.monotonic()
        yield "", f"Loading {model_spec} ..."
        loaded = load_model(
            model_spec, trust_remote_code=bool(trust_remote_code), progress=lambda f, m: progress(f, desc=m)
        )
        yield "", f"Generating with {_short(loaded.path)} ..."
        text, first = "", None
        for text in stream_generate(
            loaded,
            prompt,
            max_new_tokens=int(max_new_tokens),
            temperature=float(temperature),
            top_p=float(top_p),
            seed=int(seed),
        ):
            first = first or time.monotonic()
            yield text, "Generating ..."
        tokens = len(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
        elapsed = time.monotonic() - (first or started)
        rate = f", {tokens / elapsed:.1f} tokens/s" if elapsed > 0 and tokens else ""
        yield text, f"Done: ~{tokens} tokens in {time.monotonic() - started:.1f} s{rate} ({_short(loaded.path)})"
    except Exception as error:
        raise to_ui_error(error, "Generation") from None


def _short(path: Path) -> str:
    return path.name or str(path)


def build(demo: gr.Blocks) -> None:
    """Render the Playground inside the current Blocks context (call inside a gr.Tab)."""
    with gr.Row():
        with gr.Column(scale=3):
            model = gr.Dropdown(
                choices=[DEFAULT_MODEL_SPEC],
                value=DEFAULT_MODEL_SPEC,
                allow_custom_value=True,
                label="Model",
                info=MODEL_INFO,
                elem_id="playground-model",
            )
            prompt = gr.Textbox(
                label="Prompt",
                lines=5,
                placeholder="Write a haiku about the sea. Use only lowercase letters.",
                elem_id="playground-prompt",
            )
            with gr.Row():
                run = gr.Button("Generate", variant="primary", elem_id="playground-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="playground-stop")
            # A Textbox shows model output as text: no markdown or HTML is ever interpreted.
            response = gr.Textbox(
                label="Response",
                lines=12,
                interactive=False,
                buttons=["copy"],
                elem_id="playground-response",
            )
            status = gr.Textbox(label="Status", lines=1, interactive=False, elem_id="playground-status")
        with gr.Column(scale=1):
            max_new_tokens = gr.Slider(1, 1024, value=256, step=1, label="Max new tokens")
            temperature = gr.Slider(0.0, 2.0, value=0.7, step=0.05, label="Temperature", info="0 = greedy")
            top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p")
            seed = gr.Number(value=0, precision=0, label="Seed")
            trust = gr.Checkbox(
                value=False,
                label="Trust remote code",
                info="Lets a checkpoint run its own Python code. Only for models you trust.",
            )
    inputs = [model, prompt, max_new_tokens, temperature, top_p, seed, trust]
    one_at_a_time = {"concurrency_id": "model", "concurrency_limit": 1}  # few CPU cores: one generation at a time
    event = run.click(generate, inputs, [response, status], api_name="generate", **one_at_a_time)
    submitted = prompt.submit(generate, inputs, [response, status], **MODEL)
    # Cancelling closes the generator; stream_generate then stops the model at the next token.
    stop.click(None, cancels=[event, submitted])
    demo.load(lambda: gr.Dropdown(choices=model_choices()), None, model, **QUICK)
